// The function tables are typed from their declarations: what an implementation may return is checked by tsc
// (the @ts-expect-error lines fail the build when the error they expect goes away).
import test from 'ava';
import { MemberName, TableImpl } from '../core/abi';
import { EFI_SUCCESS } from '../core/status';
import { EFI_FILE_PROTOCOL } from '../efi-services/protocols/file';
import { EFI_RNG_PROTOCOL } from '../efi-services/protocols/rng';
import { EFI_SIMPLE_TEXT_INPUT_PROTOCOL } from '../efi-services/protocols/simple-text-input';
import { BootServicesImpl } from '../efi-services/tables/boot-services-decl';
import { OutcomeKind } from '../core/outcomes';
import { Outcome } from '../src/report-v1';

test('an EFI_STATUS member returns a status, a VOID member nothing, an unknown member is refused', (t) => {
  const ok: TableImpl<typeof EFI_RNG_PROTOCOL> = { GetInfo: () => EFI_SUCCESS, GetRNG: () => EFI_SUCCESS };
  // @ts-expect-error an EFI_STATUS member that can end without a status
  const noStatus: TableImpl<typeof EFI_RNG_PROTOCOL> = { GetInfo: ([, size]) => { if (size === 0n) return EFI_SUCCESS; } };
  // @ts-expect-error a VOID member returns nothing
  const voidValue: BootServicesImpl = { RestoreTPL: () => 0n };
  // @ts-expect-error EFI_TPL RaiseTPL returns the old TPL
  const tplNothing: BootServicesImpl = { RaiseTPL: () => undefined };
  // @ts-expect-error no such member
  const unknown: BootServicesImpl = { AllocatePagez: () => EFI_SUCCESS };
  // @ts-expect-error WaitForKey is a data field, not a function
  const fieldImpl: TableImpl<typeof EFI_SIMPLE_TEXT_INPUT_PROTOCOL> = { WaitForKey: () => EFI_SUCCESS };
  const members: MemberName<typeof EFI_FILE_PROTOCOL>[] = ['Open', 'Read'];
  // @ts-expect-error member names come from the declaration
  const badMember: MemberName<typeof EFI_FILE_PROTOCOL> = 'Opne';
  t.deepEqual(Object.keys(ok), ['GetInfo', 'GetRNG']);
  t.deepEqual(members, ['Open', 'Read']);
  t.truthy([noStatus, voidValue, tplNothing, unknown, fieldImpl, badMember]);
});

test('the report\'s outcome kinds and RunEnd\'s are one set', (t) => {
  const same: [Outcome['kind']] extends [OutcomeKind] ? ([OutcomeKind] extends [Outcome['kind']] ? true : false) : false = true;
  t.true(same);
});
