// EFI_RUNTIME_SERVICES variable members (UEFI 2.10 §8.2): guest-memory argument handling over a VariableStore.
import { RuntimeServicesImpl } from '../tables/runtime-services-decl';
import { guidFromBytes, guidToBytes } from '../../core/guid';
import { Platform } from '../platform';
import { EFI_BUFFER_TOO_SMALL, EFI_INVALID_PARAMETER, EFI_SUCCESS } from '../../core/status';
import { encodeUtf16z } from '../../core/guest-memory';
import { VariableStore } from './variable-store';

export function variableServices(platform: Platform, store: VariableStore): RuntimeServicesImpl {
  const mem = platform.mem;
  const readGuid = (p: bigint) => guidFromBytes(mem.view(p, 16));
  const l = store.limits;
  /** No variable of any kind can hold more; larger sizes are refused before touching guest memory. */
  const largestVariable = BigInt(Math.max(l.maxVariableSize, l.maxAuthVariableSize, l.maxVolatileVariableSize, l.maxHwErrVariableSize));

  return {
    /** UEFI 2.10 §8.2.1; Attributes is also returned with EFI_BUFFER_TOO_SMALL (as the spec and edk2 do). */
    GetVariable: ([namePtr, guidPtr, attributesPtr, dataSizePtr, dataPtr]) => {
      if (namePtr === 0n || guidPtr === 0n || dataSizePtr === 0n) return EFI_INVALID_PARAMETER;
      const found = store.get(readGuid(guidPtr), mem.utf16z(namePtr));
      if (typeof found === 'bigint') return found;
      const size = BigInt(found.data.length);
      const room = mem.u64(dataSizePtr);
      if (room < size) {
        mem.setU64(dataSizePtr, size);
        if (attributesPtr !== 0n) mem.setU32(attributesPtr, found.attributes);
        return EFI_BUFFER_TOO_SMALL;
      }
      if (dataPtr === 0n) return EFI_INVALID_PARAMETER;
      mem.write(dataPtr, found.data);
      mem.setU64(dataSizePtr, size);
      if (attributesPtr !== 0n) mem.setU32(attributesPtr, found.attributes);
      return EFI_SUCCESS;
    },

    /** UEFI 2.10 §8.2.2: VariableNameSize is in bytes and must hold the input name's terminator. */
    GetNextVariableName: ([sizePtr, namePtr, guidPtr]) => {
      if (sizePtr === 0n || namePtr === 0n || guidPtr === 0n) return EFI_INVALID_PARAMETER;
      const size = mem.u64(sizePtr);
      const maxChars = size / 2n;
      let name = '';
      let terminated = false;
      for (let i = 0n; i < maxChars; i++) {
        const c = mem.u16(namePtr + 2n * i);
        if (c === 0) {
          terminated = true;
          break;
        }
        name += String.fromCharCode(c);
      }
      if (!terminated) return EFI_INVALID_PARAMETER;
      const next = store.getNext(readGuid(guidPtr), name);
      if (typeof next === 'bigint') return next;
      const encoded = encodeUtf16z(next.name);
      mem.setU64(sizePtr, BigInt(encoded.length));
      if (BigInt(encoded.length) > size) return EFI_BUFFER_TOO_SMALL;
      mem.write(namePtr, encoded);
      mem.write(guidPtr, guidToBytes(next.guid));
      return EFI_SUCCESS;
    },

    /** UEFI 2.10 §8.2.3; the store applies the attribute, size and lifecycle rules. */
    SetVariable: ([namePtr, guidPtr, attributes, dataSize, dataPtr], call) => {
      if (namePtr === 0n) return EFI_INVALID_PARAMETER;
      const name = mem.utf16z(namePtr);
      if (name === '' || guidPtr === 0n) return EFI_INVALID_PARAMETER;
      if (dataSize !== 0n && dataPtr === 0n) return EFI_INVALID_PARAMETER;
      if (dataSize > largestVariable) {
        call.note('DataSize exceeds every maximum variable size');
        return EFI_INVALID_PARAMETER;
      }
      const data = dataSize === 0n ? Buffer.alloc(0) : mem.read(dataPtr, Number(dataSize));
      const status = store.set(readGuid(guidPtr), name, Number(attributes), data);
      if (store.lastRejection) call.note(store.lastRejection);
      return status;
    },

    /** UEFI 2.10 §8.2.4. */
    QueryVariableInfo: ([attributes, maxStoragePtr, remainingPtr, maxSizePtr]) => {
      if (maxStoragePtr === 0n || remainingPtr === 0n || maxSizePtr === 0n) return EFI_INVALID_PARAMETER;
      const info = store.query(Number(attributes));
      if (typeof info === 'bigint') return info;
      mem.setU64(maxStoragePtr, info.maximumVariableStorageSize);
      mem.setU64(remainingPtr, info.remainingVariableStorageSize);
      mem.setU64(maxSizePtr, info.maximumVariableSize);
      return EFI_SUCCESS;
    },
  };
}
