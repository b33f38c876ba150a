// EFI_SIMPLE_TEXT_INPUT_PROTOCOL and EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL (UEFI 2.10 §12.3, §12.2) over a scripted key queue.
import { field, fn, fnReturning, tableDecl } from '../../core/abi';
import { buildInterface, memberAddress } from '../interface';
import { Platform } from '../platform';
import { EFI_INVALID_PARAMETER, EFI_NOT_READY, EFI_SUCCESS } from '../../core/status';

export const EFI_SIMPLE_TEXT_INPUT_PROTOCOL = tableDecl({
  name: 'EFI_SIMPLE_TEXT_INPUT_PROTOCOL',
  traceName: 'ConIn',
  headerSize: 0,
  members: [fn('Reset', 'This:PTR', 'ExtendedVerification:BOOLEAN'), fn('ReadKeyStroke', 'This:PTR', 'Key:PTR'), field('WaitForKey')],
});

export const EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL = tableDecl({
  name: 'EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL',
  traceName: 'ConInEx',
  headerSize: 0,
  members: [
    fn('Reset', 'This:PTR', 'ExtendedVerification:BOOLEAN'),
    fn('ReadKeyStrokeEx', 'This:PTR', 'KeyData:PTR'),
    field('WaitForKeyEx'),
    fn('SetState', 'This:PTR', 'KeyToggleState:PTR'),
    fn('RegisterKeyNotify', 'This:PTR', 'KeyData:PTR', 'KeyNotificationFunction:PTR', 'NotifyHandle:PTR'),
    fn('UnregisterKeyNotify', 'This:PTR', 'NotificationHandle:PTR'),
  ],
});

/** EFI_INPUT_KEY: ScanCode, UnicodeChar (UINT16 each). */
export interface InputKey {
  scanCode: number;
  unicodeChar: number;
}

/** Keys the user scripted (`--keys`), consumed in order by both protocols. */
export class KeyQueue {
  private readonly keys: InputKey[];
  readonly consumed: InputKey[] = [];

  constructor(keys: readonly InputKey[] = []) {
    this.keys = [...keys];
  }

  get pending(): number {
    return this.keys.length;
  }

  take(): InputKey | undefined {
    const k = this.keys.shift();
    if (k) this.consumed.push(k);
    return k;
  }
}

/** Text for `--keys`: characters, with \n as Enter (CR) and {up} {down} {left} {right} {esc} {f1}..{f10} as scan codes. */
export function parseKeyScript(script: string): InputKey[] {
  const scan: Record<string, number> = { up: 1, down: 2, right: 3, left: 4, home: 5, end: 6, insert: 7, delete: 8, pageup: 9, pagedown: 10, esc: 0x17 };
  for (let i = 1; i <= 10; i++) scan[`f${i}`] = 0x0a + i;
  const out: InputKey[] = [];
  for (let i = 0; i < script.length; i++) {
    const c = script[i];
    if (c === '{') {
      const end = script.indexOf('}', i);
      const name = end > i ? script.slice(i + 1, end).toLowerCase() : '';
      if (!(name in scan)) throw new Error(`--keys: unknown key name at offset ${i}: ${script.slice(i, end + 1 || undefined)}`);
      out.push({ scanCode: scan[name], unicodeChar: 0 });
      i = end;
    } else if (c === '\n') out.push({ scanCode: 0, unicodeChar: 0x0d });
    else out.push({ scanCode: 0, unicodeChar: c.charCodeAt(0) });
  }
  return out;
}

export interface KeyEvents {
  /** Creates an EVT_NOTIFY_WAIT event at TPL_NOTIFY whose notify function is `notify`. */
  createWaitEvent(notify: bigint): bigint;
  signal(event: bigint): void;
}

export function simpleTextInput(platform: Platform, keys: KeyQueue, events: KeyEvents): { protocol: bigint; protocolEx: bigint } {
  const mem = platform.mem;
  const writeKey = (a: bigint, k: InputKey) => {
    mem.setU16(a, k.scanCode);
    mem.setU16(a + 2n, k.unicodeChar);
  };
  // The wait events' notify functions are firmware traps: they signal the event when a key is pending
  // (UEFI 2.10 §12.3.3 WaitForKey).
  const waitNotify = platform.trap('ConIn', fnReturning('VOID', 'WaitForKeyNotify', 'Event:EVENT', 'Context:PTR'), ([event]) => {
    if (keys.pending > 0) events.signal(event);
    return undefined;
  });

  const protocol = buildInterface(platform, EFI_SIMPLE_TEXT_INPUT_PROTOCOL, {
    Reset: () => EFI_SUCCESS,
    ReadKeyStroke: ([, key]) => {
      if (key === 0n) return EFI_INVALID_PARAMETER;
      const k = take();
      if (!k) return EFI_NOT_READY;
      writeKey(key, k);
      return EFI_SUCCESS;
    },
  });
  mem.setU64(memberAddress(protocol, EFI_SIMPLE_TEXT_INPUT_PROTOCOL, 'WaitForKey'), events.createWaitEvent(waitNotify));

  const toggleState = { value: 0 };
  const notifies = new Map<bigint, { key: InputKey; fn: bigint }>();
  const notifyKeyData = platform.allocate(12);
  /**
   * A key is "pressed" when the guest reads it: KeyNotificationFunctions registered for it run first
   * (UEFI 2.10 §12.2.5 RegisterKeyNotify), with the key data in firmware memory.
   */
  const take = (): InputKey | undefined => {
    const k = keys.take();
    if (!k) return undefined;
    for (const n of notifies.values()) {
      if (n.key.scanCode !== k.scanCode || n.key.unicodeChar !== k.unicodeChar) continue;
      writeKey(notifyKeyData, k);
      mem.setU32(notifyKeyData + 4n, 0);
      mem.setU8(notifyKeyData + 8n, toggleState.value);
      platform.callGuest(n.fn, [notifyKeyData], 'ConInEx key notification');
    }
    return k;
  };
  const ex = buildInterface(platform, EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL, {
    Reset: () => EFI_SUCCESS,
    ReadKeyStrokeEx: ([, keyData]) => {
      if (keyData === 0n) return EFI_INVALID_PARAMETER;
      const k = take();
      if (!k) return EFI_NOT_READY;
      // EFI_KEY_DATA: Key, then EFI_KEY_STATE { UINT32 KeyShiftState; EFI_KEY_TOGGLE_STATE KeyToggleState }.
      writeKey(keyData, k);
      mem.setU32(keyData + 4n, 0);
      mem.setU8(keyData + 8n, toggleState.value);
      return EFI_SUCCESS;
    },
    SetState: ([, state]) => {
      if (state === 0n) return EFI_INVALID_PARAMETER;
      toggleState.value = mem.u8(state);
      return EFI_SUCCESS;
    },
    RegisterKeyNotify: ([, keyData, notifyFn, handleOut]) => {
      if (keyData === 0n || notifyFn === 0n || handleOut === 0n) return EFI_INVALID_PARAMETER;
      const handle = platform.allocate(8);
      notifies.set(handle, { key: { scanCode: mem.u16(keyData), unicodeChar: mem.u16(keyData + 2n) }, fn: notifyFn });
      mem.setU64(handleOut, handle);
      return EFI_SUCCESS;
    },
    UnregisterKeyNotify: ([, handle]) => {
      if (!notifies.delete(handle)) return EFI_INVALID_PARAMETER;
      return EFI_SUCCESS;
    },
  });
  mem.setU64(memberAddress(ex, EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL, 'WaitForKeyEx'), events.createWaitEvent(waitNotify));
  return { protocol, protocolEx: ex };
}
