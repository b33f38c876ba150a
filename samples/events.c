/* events: notify functions and TPL, timers, WaitForEvent/CheckEvent, event groups and the ExitBootServices event (UEFI 2.10 §7.1). */
#include "sample.h"

#define ONE_SECOND 10000000ULL /* SetTimer counts 100 ns units */

/* A private event group (UEFI 2.10 §7.1.2 CreateEventEx): every member is notified when one is signalled. */
static EFI_GUID SampleGroup = { 0x6a1ee763, 0xd47a, 0x4b2f, { 0x8e, 0x5d, 0x2c, 0x11, 0x5b, 0x73, 0x5c, 0x01 } };
/* EFI_EVENT_GROUP_EXIT_BOOT_SERVICES (UEFI 2.10 §7.1.2); gnu-efi 3.0.15 does not define it. */
static EFI_GUID ExitBootServicesGroup = { 0x27abf055, 0xb1b8, 0x4c26, { 0x80, 0x48, 0x74, 0x8f, 0x37, 0xba, 0xa2, 0xdf } };

typedef struct {
	UINTN Count;
	EFI_TPL Tpl; /* TPL the last notification ran at */
} NOTIFY_LOG;

/* UEFI 2.10 §7.1.8: RaiseTPL returns the previous TPL, the only way to read the current one. */
static EFI_TPL CurrentTpl(VOID)
{
	EFI_TPL Tpl = uefi_call_wrapper(BS->RaiseTPL, 1, TPL_HIGH_LEVEL);
	uefi_call_wrapper(BS->RestoreTPL, 1, Tpl);
	return Tpl;
}

static VOID EFIAPI CountNotify(EFI_EVENT Event, VOID *Context)
{
	NOTIFY_LOG *Log = Context;

	(VOID)Event;
	Log->Count++;
	Log->Tpl = CurrentTpl();
}

/* EVT_NOTIFY_WAIT: CheckEvent runs this while the event is not signalled; it signals on the second call. */
static VOID EFIAPI SignalOnSecondCall(EFI_EVENT Event, VOID *Context)
{
	NOTIFY_LOG *Log = Context;

	Log->Count++;
	if (Log->Count == 2)
		uefi_call_wrapper(BS->SignalEvent, 1, Event);
}

static VOID EFIAPI EbsNotify(EFI_EVENT Event, VOID *Context)
{
	(VOID)Event;
	Print(L"%s notify ran\n", (CONST CHAR16 *)Context);
}

static VOID SignalAndTpl(VOID)
{
	NOTIFY_LOG Log = { 0, 0 };
	EFI_EVENT E = NULL;
	EFI_STATUS Status;
	EFI_TPL Old;
	UINTN During;

	Status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, CountNotify, &Log, &E);
	if (!CheckStatus(L"create-notify-signal", Status, EFI_SUCCESS))
		return;
	Check(Log.Count == 0, L"no-notify-before-signal", L"notify ran %ld times", (UINT64)Log.Count);

	/* UEFI 2.10 §7.1.4 SignalEvent: at TPL_APPLICATION a TPL_CALLBACK notification runs before it returns. */
	CheckStatus(L"signal", uefi_call_wrapper(BS->SignalEvent, 1, E), EFI_SUCCESS);
	Print(L"signal notify-count %ld notify-tpl %ld\n", (UINT64)Log.Count, (UINT64)Log.Tpl);
	Check(Log.Count == 1, L"notify-ran-once", L"count %ld", (UINT64)Log.Count);
	Check(Log.Tpl == TPL_CALLBACK, L"notify-tpl", L"ran at TPL %ld", (UINT64)Log.Tpl);

	/* UEFI 2.10 §7.1.8: notifications at or below the current TPL wait for RestoreTPL; signalling an
	 * event that is already signalled queues nothing more. */
	Old = uefi_call_wrapper(BS->RaiseTPL, 1, TPL_NOTIFY);
	Print(L"raise-tpl old %ld\n", (UINT64)Old);
	Check(Old == TPL_APPLICATION, L"raise-tpl-old", L"old TPL %ld", (UINT64)Old);
	uefi_call_wrapper(BS->SignalEvent, 1, E);
	uefi_call_wrapper(BS->SignalEvent, 1, E);
	During = Log.Count;
	uefi_call_wrapper(BS->RestoreTPL, 1, Old);
	Print(L"tpl-defer count-during %ld count-after %ld\n", (UINT64)During, (UINT64)Log.Count);
	Check(During == 1, L"tpl-defer", L"notify ran while TPL_NOTIFY was held (count %ld)", (UINT64)During);
	Check(Log.Count == 2, L"tpl-restore-runs-once", L"count %ld after RestoreTPL, expected 2", (UINT64)Log.Count);
	Check(CurrentTpl() == TPL_APPLICATION, L"tpl-restored", L"TPL %ld", (UINT64)CurrentTpl());

	CheckStatus(L"close-notify-signal", uefi_call_wrapper(BS->CloseEvent, 1, E), EFI_SUCCESS);
}

/* Parameter checks, UEFI 2.10 §7.1.1 CreateEvent. */
static VOID CreateInvalid(VOID)
{
	NOTIFY_LOG Log = { 0, 0 };
	EFI_EVENT E = NULL;

	CheckStatus(L"create-null-event",
		    uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, CountNotify, &Log, NULL),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"create-null-notify",
		    uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, NULL, &Log, &E),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"create-signal-and-wait",
		    uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL | EVT_NOTIFY_WAIT, TPL_CALLBACK, CountNotify,
				      &Log, &E),
		    EFI_INVALID_PARAMETER);
}

static VOID Timers(VOID)
{
	NOTIFY_LOG Periodic = { 0, 0 };
	EFI_EVENT T = NULL, Never = NULL, P = NULL, Notify = NULL, Both[2];
	UINTN Index = 99;
	EFI_STATUS Status;
	EFI_TPL Old;

	Status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER, 0, NULL, NULL, &T);
	if (!CheckStatus(L"create-timer", Status, EFI_SUCCESS))
		return;
	CheckStatus(L"timer-not-set", uefi_call_wrapper(BS->CheckEvent, 1, T), EFI_NOT_READY);

	/* UEFI 2.10 §7.1.7 WaitForEvent: returns the index of the signalled event and clears its state. */
	CheckStatus(L"set-timer-1s", uefi_call_wrapper(BS->SetTimer, 3, T, TimerRelative, ONE_SECOND), EFI_SUCCESS);
	Status = uefi_call_wrapper(BS->WaitForEvent, 3, 1, &T, &Index);
	Print(L"wait-timer index %ld\n", (UINT64)Index);
	CheckStatus(L"wait-timer", Status, EFI_SUCCESS);
	Check(Index == 0, L"wait-timer-index", L"index %ld", (UINT64)Index);
	CheckStatus(L"timer-cleared-by-wait", uefi_call_wrapper(BS->CheckEvent, 1, T), EFI_NOT_READY);

	/* A never-signalled event first: the index names the timer. */
	Status = uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &Never);
	CheckStatus(L"create-plain", Status, EFI_SUCCESS);
	uefi_call_wrapper(BS->SetTimer, 3, T, TimerRelative, ONE_SECOND / 2);
	Both[0] = Never;
	Both[1] = T;
	Index = 99;
	Status = uefi_call_wrapper(BS->WaitForEvent, 3, 2, Both, &Index);
	Print(L"wait-two index %ld\n", (UINT64)Index);
	CheckStatus(L"wait-two", Status, EFI_SUCCESS);
	Check(Index == 1, L"wait-two-index", L"index %ld", (UINT64)Index);

	/* A periodic timer with a notify function, counted over one second of another timer. */
	Status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, CountNotify,
				   &Periodic, &P);
	if (CheckStatus(L"create-periodic", Status, EFI_SUCCESS)) {
		uefi_call_wrapper(BS->SetTimer, 3, P, TimerPeriodic, ONE_SECOND / 10);
		uefi_call_wrapper(BS->SetTimer, 3, T, TimerRelative, ONE_SECOND);
		uefi_call_wrapper(BS->WaitForEvent, 3, 1, &T, &Index);
		CheckStatus(L"cancel-periodic", uefi_call_wrapper(BS->SetTimer, 3, P, TimerCancel, 0), EFI_SUCCESS);
		Print(L"periodic notify-count %ld in 1s at 100ms\n", (UINT64)Periodic.Count);
		Check(Periodic.Count >= 2, L"periodic", L"only %ld notifications", (UINT64)Periodic.Count);
		uefi_call_wrapper(BS->CloseEvent, 1, P);
	}

	/* UEFI 2.10 §7.1.7: EFI_UNSUPPORTED above TPL_APPLICATION; EVT_NOTIFY_SIGNAL events cannot be waited on. */
	/* T is armed so that a firmware which waits anyway still comes back. */
	uefi_call_wrapper(BS->SetTimer, 3, T, TimerRelative, ONE_SECOND / 10);
	Old = uefi_call_wrapper(BS->RaiseTPL, 1, TPL_CALLBACK);
	Status = uefi_call_wrapper(BS->WaitForEvent, 3, 1, &T, &Index);
	uefi_call_wrapper(BS->RestoreTPL, 1, Old);
	CheckStatus(L"wait-above-application", Status, EFI_UNSUPPORTED);
	CheckStatus(L"wait-zero-events", uefi_call_wrapper(BS->WaitForEvent, 3, 0, &T, &Index), EFI_INVALID_PARAMETER);
	Status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, CountNotify, &Periodic, &Notify);
	if (!EFI_ERROR(Status)) {
		Status = uefi_call_wrapper(BS->WaitForEvent, 3, 1, &Notify, &Index);
		CheckStatus(L"wait-notify-signal", Status, EFI_INVALID_PARAMETER);
		CheckStatus(L"check-notify-signal", uefi_call_wrapper(BS->CheckEvent, 1, Notify), EFI_INVALID_PARAMETER);
		uefi_call_wrapper(BS->CloseEvent, 1, Notify);
	}

	uefi_call_wrapper(BS->SetTimer, 3, T, TimerCancel, 0);
	uefi_call_wrapper(BS->CloseEvent, 1, Never);
	CheckStatus(L"close-timer", uefi_call_wrapper(BS->CloseEvent, 1, T), EFI_SUCCESS);
}

/* UEFI 2.10 §7.1.6 CheckEvent: clears a signalled event; runs an EVT_NOTIFY_WAIT notify when not signalled. */
static VOID CheckEvents(VOID)
{
	NOTIFY_LOG Log = { 0, 0 };
	EFI_EVENT W = NULL, NW = NULL;
	EFI_STATUS First, Second;

	if (CheckStatus(L"create-plain-2", uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &W), EFI_SUCCESS)) {
		CheckStatus(L"check-unsignalled", uefi_call_wrapper(BS->CheckEvent, 1, W), EFI_NOT_READY);
		uefi_call_wrapper(BS->SignalEvent, 1, W);
		CheckStatus(L"check-signalled", uefi_call_wrapper(BS->CheckEvent, 1, W), EFI_SUCCESS);
		CheckStatus(L"check-cleared", uefi_call_wrapper(BS->CheckEvent, 1, W), EFI_NOT_READY);
		uefi_call_wrapper(BS->CloseEvent, 1, W);
	}

	if (CheckStatus(L"create-notify-wait",
			uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_WAIT, TPL_CALLBACK, SignalOnSecondCall, &Log, &NW),
			EFI_SUCCESS)) {
		First = uefi_call_wrapper(BS->CheckEvent, 1, NW);
		Second = uefi_call_wrapper(BS->CheckEvent, 1, NW);
		Print(L"notify-wait first 0x%lx second 0x%lx notify-count %ld\n", First, Second, (UINT64)Log.Count);
		Check(First == EFI_NOT_READY && Second == EFI_SUCCESS && Log.Count == 2, L"notify-wait",
		      L"statuses 0x%lx 0x%lx, count %ld", First, Second, (UINT64)Log.Count);
		uefi_call_wrapper(BS->CloseEvent, 1, NW);
	}
}

static VOID Groups(VOID)
{
	NOTIFY_LOG A = { 0, 0 }, B = { 0, 0 };
	EFI_EVENT EA = NULL, EB = NULL;
	EFI_STATUS Status;

	Status = uefi_call_wrapper(BS->CreateEventEx, 6, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, CountNotify, &A, &SampleGroup,
				   &EA);
	if (!CheckStatus(L"create-group-a", Status, EFI_SUCCESS))
		return;
	Status = uefi_call_wrapper(BS->CreateEventEx, 6, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, CountNotify, &B, &SampleGroup,
				   &EB);
	if (CheckStatus(L"create-group-b", Status, EFI_SUCCESS)) {
		uefi_call_wrapper(BS->SignalEvent, 1, EA);
		Print(L"group notify-counts %ld %ld\n", (UINT64)A.Count, (UINT64)B.Count);
		Check(A.Count == 1 && B.Count == 1, L"group-signal", L"counts %ld %ld", (UINT64)A.Count, (UINT64)B.Count);
		uefi_call_wrapper(BS->CloseEvent, 1, EB);
	}
	/* A closed member leaves the group. */
	uefi_call_wrapper(BS->SignalEvent, 1, EA);
	Check(A.Count == 2 && B.Count == 1, L"group-after-close", L"counts %ld %ld", (UINT64)A.Count, (UINT64)B.Count);
	uefi_call_wrapper(BS->CloseEvent, 1, EA);
}

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	EFI_EVENT Ebs = NULL, EbsGroup = NULL;
	UINTN MapSize = 0, Key, DescSize;
	UINT32 DescVersion;
	VOID *Map = NULL;
	EFI_STATUS Status;

	SampleInit(L"events", SystemTable);

	SignalAndTpl();
	CreateInvalid();
	Timers();
	CheckEvents();
	Groups();

	/* UEFI 2.10 §7.1.1: EVT_SIGNAL_EXIT_BOOT_SERVICES and the EFI_EVENT_GROUP_EXIT_BOOT_SERVICES group are
	 * both notified during ExitBootServices; their lines come after the summary. */
	Status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, EbsNotify,
				   (VOID *)L"ebs", &Ebs);
	CheckStatus(L"create-ebs-event", Status, EFI_SUCCESS);
	Status = uefi_call_wrapper(BS->CreateEventEx, 6, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, EbsNotify,
				   (VOID *)L"ebs-group", &ExitBootServicesGroup, &EbsGroup);
	CheckStatus(L"create-ebs-group-event", Status, EFI_SUCCESS);

	uefi_call_wrapper(BS->GetMemoryMap, 5, &MapSize, NULL, &Key, &DescSize, &DescVersion);
	MapSize += 4096;
	Status = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, MapSize, &Map);
	CheckStatus(L"map-buffer", Status, EFI_SUCCESS);

	SampleSummary();
	if (EFI_ERROR(Status))
		return EFI_ABORTED;
	return SampleExitBootServices(ImageHandle, Map, MapSize);
}
