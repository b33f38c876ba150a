// EFI_RNG_PROTOCOL (UEFI 2.10 §37.5): a deterministic generator (SHA-256 in counter mode over a seed),
// so runs are reproducible; `--rng-seed` changes the stream.
import { fn, tableDecl } from '../../core/abi';
import { guidFromBytes, guidToBytes, GUID } from '../../core/guid';
import { buildInterface } from '../interface';
import { InstallContext } from '../install-context';
import { Platform } from '../platform';
import { DeterministicRandom } from '../random';
import { EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_SUCCESS, EFI_UNSUPPORTED } from '../../core/status';

export const EFI_RNG_PROTOCOL_GUID = GUID.RNG_PROTOCOL;
/** The algorithms offered, default first (UEFI 2.10 §37.5.1.1). */
export const EFI_RNG_ALGORITHM_RAW = 'e43176d7-b6e8-4827-b784-7ffdc4b68561';
export const EFI_RNG_ALGORITHM_SP800_90_CTR_256 = '44f0de6e-4d8c-4045-a8c7-4dd168856b9e';
const ALGORITHMS = [EFI_RNG_ALGORITHM_RAW, EFI_RNG_ALGORITHM_SP800_90_CTR_256];

export const EFI_RNG_PROTOCOL = tableDecl({
  name: 'EFI_RNG_PROTOCOL',
  traceName: 'Rng',
  headerSize: 0,
  members: [
    fn('GetInfo', 'This:PTR', 'RNGAlgorithmListSize:PTR', 'RNGAlgorithmList:PTR'),
    fn('GetRNG', 'This:PTR', 'RNGAlgorithm:PTR', 'RNGValueLength:UINTN', 'RNGValue:PTR'),
  ],
});

export function rngProtocol(platform: Platform, random: DeterministicRandom): bigint {
  const mem = platform.mem;
  return buildInterface(platform, EFI_RNG_PROTOCOL, {
    GetInfo: ([, sizeOut, list]) => {
      if (sizeOut === 0n) return EFI_INVALID_PARAMETER;
      const need = BigInt(16 * ALGORITHMS.length);
      const have = mem.u64(sizeOut);
      mem.setU64(sizeOut, need);
      if (have < need) return EFI_BUFFER_TOO_SMALL;
      if (list === 0n) return EFI_INVALID_PARAMETER;
      ALGORITHMS.forEach((g, i) => mem.write(list + BigInt(16 * i), guidToBytes(g)));
      return EFI_SUCCESS;
    },
    GetRNG: ([, algorithm, length, value]) => {
      if (value === 0n || length === 0n) return EFI_INVALID_PARAMETER;
      if (algorithm !== 0n && !ALGORITHMS.includes(guidFromBytes(mem.view(algorithm, 16)))) return EFI_UNSUPPORTED;
      mem.write(value, random.bytes(Number(length)));
      return EFI_SUCCESS;
    },
  });
}

/** Module entry (platform-protocols.ts): EFI_RNG_PROTOCOL on a new handle, over the firmware's random stream. */
export function install(ctx: InstallContext): void {
  ctx.db.install(0n, EFI_RNG_PROTOCOL_GUID, rngProtocol(ctx.platform, ctx.random));
}
