// EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL (UEFI 2.10 §12.4): text is captured for the report and streamed live.
import { field, fn, tableDecl } from '../../core/abi';
import { buildInterface, memberAddress } from '../interface';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_SUCCESS, EFI_UNSUPPORTED } from '../../core/status';

export const EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL = tableDecl({
  name: 'EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL',
  traceName: 'ConOut',
  headerSize: 0,
  members: [
    fn('Reset', 'This:PTR', 'ExtendedVerification:BOOLEAN'),
    fn('OutputString', 'This:PTR', 'String:STR16'),
    fn('TestString', 'This:PTR', 'String:STR16'),
    fn('QueryMode', 'This:PTR', 'ModeNumber:UINTN', 'Columns:PTR', 'Rows:PTR'),
    fn('SetMode', 'This:PTR', 'ModeNumber:UINTN'),
    fn('SetAttribute', 'This:PTR', 'Attribute:UINTN'),
    fn('ClearScreen', 'This:PTR'),
    fn('SetCursorPosition', 'This:PTR', 'Column:UINTN', 'Row:UINTN'),
    fn('EnableCursor', 'This:PTR', 'Visible:BOOLEAN'),
    field('Mode'),
  ],
});

/** SIMPLE_TEXT_OUTPUT_MODE: MaxMode, Mode, Attribute, CursorColumn, CursorRow (INT32 each), CursorVisible (BOOLEAN). */
const MODE = { MaxMode: 0, Mode: 4, Attribute: 8, CursorColumn: 12, CursorRow: 16, CursorVisible: 20, size: 24 } as const;

/** Text modes: mode 0 is 80x25 as the spec requires; mode 1 (80x50) is optional and not offered. */
const MODES: readonly [number, number][] = [[80, 25]];
/** EFI_TEXT_ATTR(EFI_LIGHTGRAY, EFI_BLACK), the attribute after Reset. */
const DEFAULT_ATTRIBUTE = 0x07;

export interface TextOutput {
  protocol: bigint;
  /** Everything written with OutputString, as text. */
  text(): string;
}

export function simpleTextOutput(platform: Platform, name: 'ConOut' | 'StdErr', onOutput: (text: string) => void): TextOutput {
  const mem = platform.mem;
  let captured = '';
  let column = 0;
  let row = 0;
  let mode: bigint;
  const decl = tableDecl({ ...EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL, traceName: name });
  const setMode = (field: keyof typeof MODE, v: number) => mem.setU32(mode + BigInt(MODE[field]), v);
  const clear = () => {
    column = 0;
    row = 0;
    setMode('CursorColumn', 0);
    setMode('CursorRow', 0);
  };
  const advance = (s: string) => {
    const [cols, rows] = MODES[mem.u32(mode + BigInt(MODE.Mode))];
    for (const ch of s) {
      if (ch === '\r') column = 0;
      else if (ch === '\n') row = Math.min(rows - 1, row + 1);
      else if (ch === '\b') column = Math.max(0, column - 1);
      else if (++column >= cols) {
        column = 0;
        row = Math.min(rows - 1, row + 1);
      }
    }
    setMode('CursorColumn', column);
    setMode('CursorRow', row);
  };

  const protocol = buildInterface(platform, decl, {
    Reset: () => {
      setMode('Mode', 0);
      setMode('Attribute', DEFAULT_ATTRIBUTE);
      clear();
      return EFI_SUCCESS;
    },
    OutputString: ([, str]) => {
      if (str === 0n) return EFI_INVALID_PARAMETER;
      const s = mem.utf16z(str);
      captured += s;
      advance(s);
      onOutput(s);
      return EFI_SUCCESS;
    },
    TestString: ([, str]) => {
      if (str === 0n) return EFI_INVALID_PARAMETER;
      mem.utf16z(str); // every UCS-2 character is renderable in the captured text
      return EFI_SUCCESS;
    },
    QueryMode: ([, n, cols, rows]) => {
      if (n >= BigInt(MODES.length)) return EFI_UNSUPPORTED;
      if (cols === 0n || rows === 0n) return EFI_INVALID_PARAMETER;
      mem.setU64(cols, BigInt(MODES[Number(n)][0]));
      mem.setU64(rows, BigInt(MODES[Number(n)][1]));
      return EFI_SUCCESS;
    },
    SetMode: ([, n]) => {
      if (n >= BigInt(MODES.length)) return EFI_UNSUPPORTED;
      setMode('Mode', Number(n));
      clear();
      return EFI_SUCCESS;
    },
    SetAttribute: ([, attr]) => {
      if (attr > 0x7fn) return EFI_UNSUPPORTED; // bits 0-6: foreground and background colours
      setMode('Attribute', Number(attr));
      return EFI_SUCCESS;
    },
    ClearScreen: () => {
      clear();
      return EFI_SUCCESS;
    },
    SetCursorPosition: ([, col, r]) => {
      const [cols, rows] = MODES[mem.u32(mode + BigInt(MODE.Mode))];
      if (col >= BigInt(cols) || r >= BigInt(rows)) return EFI_UNSUPPORTED;
      column = Number(col);
      row = Number(r);
      setMode('CursorColumn', column);
      setMode('CursorRow', row);
      return EFI_SUCCESS;
    },
    EnableCursor: ([, visible]) => {
      mem.setU8(mode + BigInt(MODE.CursorVisible), visible ? 1 : 0);
      return EFI_SUCCESS;
    },
  });
  mode = platform.allocate(MODE.size);
  mem.setU64(memberAddress(protocol, decl, 'Mode'), mode);
  setMode('MaxMode', MODES.length);
  setMode('Mode', 0);
  setMode('Attribute', DEFAULT_ATTRIBUTE);
  mem.setU8(mode + BigInt(MODE.CursorVisible), 1);
  return { protocol, text: () => captured };
}
