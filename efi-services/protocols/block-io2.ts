// EFI_BLOCK_IO2_PROTOCOL (UEFI 2.10 §13.10): the same device as BlockIo; a request with a token's event completes
// at once (TransactionStatus set, the event signalled), as a device with no queue would.
import { field, fn, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';
import { BlockDevice } from '../disk/block-device';
import { buildInterface, memberAddress } from '../interface';
import { Platform } from '../platform';
import { EFI_SUCCESS, EfiStatus, isError } from '../../core/status';
import { transferBlocks } from './block-io';

export const EFI_BLOCK_IO2_PROTOCOL_GUID = GUID.BLOCK_IO2;

export const EFI_BLOCK_IO2_PROTOCOL = tableDecl({
  name: 'EFI_BLOCK_IO2_PROTOCOL',
  traceName: 'BlockIo2',
  headerSize: 0,
  members: [
    field('Media'),
    fn('Reset', 'This:PTR', 'ExtendedVerification:BOOLEAN'),
    fn('ReadBlocksEx', 'This:PTR', 'MediaId:UINT32', 'LBA:UINT64', 'Token:PTR', 'BufferSize:UINTN', 'Buffer:PTR'),
    fn('WriteBlocksEx', 'This:PTR', 'MediaId:UINT32', 'LBA:UINT64', 'Token:PTR', 'BufferSize:UINTN', 'Buffer:PTR'),
    fn('FlushBlocksEx', 'This:PTR', 'Token:PTR'),
  ],
});

/** EFI_BLOCK_IO2_TOKEN / EFI_DISK_IO2_TOKEN: Event, then TransactionStatus. */
export const IO2_TOKEN = { Event: 0, TransactionStatus: 8 } as const;

/** Completes a request: blocking without a token event; else the status goes to the token and its event is signalled. */
export function completeIo2(platform: Platform, signal: (event: bigint) => void, token: bigint, run: () => EfiStatus): EfiStatus {
  const event = token === 0n ? 0n : platform.mem.u64(token + BigInt(IO2_TOKEN.Event));
  if (event === 0n) return run();
  const status = run();
  if (isError(status)) return status; // a request refused up front is not queued (its event is not signalled)
  platform.mem.setU64(token + BigInt(IO2_TOKEN.TransactionStatus), status);
  signal(event);
  return EFI_SUCCESS;
}

export function blockIo2Protocol(platform: Platform, dev: BlockDevice, media: bigint, signal: (event: bigint) => void): bigint {
  const p = buildInterface(platform, EFI_BLOCK_IO2_PROTOCOL, {
    Reset: () => EFI_SUCCESS,
    ReadBlocksEx: ([, mediaId, lba, token, size, buffer]) => completeIo2(platform, signal, token, () => transferBlocks(platform, dev, false, mediaId, lba, size, buffer)),
    WriteBlocksEx: ([, mediaId, lba, token, size, buffer]) => completeIo2(platform, signal, token, () => transferBlocks(platform, dev, true, mediaId, lba, size, buffer)),
    FlushBlocksEx: ([, token]) => completeIo2(platform, signal, token, () => EFI_SUCCESS),
  });
  platform.mem.setU64(memberAddress(p, EFI_BLOCK_IO2_PROTOCOL, 'Media'), media);
  return p;
}
