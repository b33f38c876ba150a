// EFI_LOAD_FILE_PROTOCOL and EFI_LOAD_FILE2_PROTOCOL (UEFI 2.10 §13.1, §13.2): one member each, the same
// signature; LoadFile2 never serves boot-manager loads (BootPolicy TRUE).
import { fn, tableDecl } from '../../core/abi';

const LOAD_FILE = fn('LoadFile', 'This:PTR', 'FilePath:PTR', 'BootPolicy:BOOLEAN', 'BufferSize:PTR', 'Buffer:PTR');

export const EFI_LOAD_FILE_PROTOCOL = tableDecl({ name: 'EFI_LOAD_FILE_PROTOCOL', traceName: 'LoadFile', headerSize: 0, members: [LOAD_FILE] });

export const EFI_LOAD_FILE2_PROTOCOL = tableDecl({ name: 'EFI_LOAD_FILE2_PROTOCOL', traceName: 'LoadFile2', headerSize: 0, members: [LOAD_FILE] });
