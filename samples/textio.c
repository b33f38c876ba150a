/* textio: ConOut modes, attribute and cursor; ConIn ReadKeyStroke and WaitForKey (UEFI 2.10 §12.3, §12.4). */
#include "sample.h"

#define KEY_TIMEOUT 20000000ULL /* 2 s in 100 ns units: how long to wait for each scripted key */
#define MAX_KEYS 3

static VOID ShowMode(CONST CHAR16 *Label)
{
	SIMPLE_TEXT_OUTPUT_MODE *M = ST->ConOut->Mode;

	Print(L"%s max-mode %d mode %d attribute 0x%x cursor %d,%d visible %d\n", Label, M->MaxMode, M->Mode,
	      M->Attribute, M->CursorColumn, M->CursorRow, M->CursorVisible);
}

/* UEFI 2.10 §12.4.5 QueryMode, §12.4.6 SetMode: mode 0 is 80x25; modes at or above MaxMode do not exist. */
static VOID Modes(VOID)
{
	SIMPLE_TEXT_OUTPUT_INTERFACE *Out = ST->ConOut;
	UINTN Columns = 0, Rows = 0;
	INT32 I, Current = Out->Mode->Mode, Column, Row;
	EFI_STATUS Status;

	for (I = 0; I < Out->Mode->MaxMode && I < 8; I++) {
		Columns = Rows = 0;
		Status = uefi_call_wrapper(Out->QueryMode, 4, Out, (UINTN)I, &Columns, &Rows);
		Print(L"query-mode %d status 0x%lx columns %ld rows %ld\n", I, Status, (UINT64)Columns, (UINT64)Rows);
		if (I == 0)
			Check(Status == EFI_SUCCESS && Columns == 80 && Rows == 25, L"query-mode-0", L"%ldx%ld",
			      (UINT64)Columns, (UINT64)Rows);
	}
	CheckStatus(L"query-mode-max", uefi_call_wrapper(Out->QueryMode, 4, Out, (UINTN)Out->Mode->MaxMode, &Columns, &Rows),
		    EFI_UNSUPPORTED);

	/* SetMode clears the screen, which homes the cursor; read it before anything is printed. */
	Status = uefi_call_wrapper(Out->SetMode, 2, Out, (UINTN)Current);
	Column = Out->Mode->CursorColumn;
	Row = Out->Mode->CursorRow;
	CheckStatus(L"set-mode-current", Status, EFI_SUCCESS);
	Check(Out->Mode->Mode == Current && Column == 0 && Row == 0, L"set-mode-clears", L"mode %d cursor %d,%d",
	      Out->Mode->Mode, Column, Row);
	CheckStatus(L"set-mode-max", uefi_call_wrapper(Out->SetMode, 2, Out, (UINTN)Out->Mode->MaxMode), EFI_UNSUPPORTED);
}

/* UEFI 2.10 §12.4.7 SetAttribute, §12.4.8 ClearScreen, §12.4.9 SetCursorPosition. */
static VOID AttributeAndCursor(VOID)
{
	SIMPLE_TEXT_OUTPUT_INTERFACE *Out = ST->ConOut;
	INT32 Saved = Out->Mode->Attribute, Column, Row, At[6];
	UINTN Columns = 80, Rows = 25;
	EFI_STATUS Status;

	Status = uefi_call_wrapper(Out->SetAttribute, 2, Out, EFI_TEXT_ATTR(EFI_YELLOW, EFI_BLUE));
	Print(L"set-attribute now 0x%x\n", Out->Mode->Attribute);
	CheckStatus(L"set-attribute", Status, EFI_SUCCESS);
	Check(Out->Mode->Attribute == EFI_TEXT_ATTR(EFI_YELLOW, EFI_BLUE), L"set-attribute-mode", L"attribute 0x%x",
	      Out->Mode->Attribute);
	uefi_call_wrapper(Out->SetAttribute, 2, Out, (UINTN)Saved);
	Check(Out->Mode->Attribute == Saved, L"set-attribute-restored", L"attribute 0x%x", Out->Mode->Attribute);

	Status = uefi_call_wrapper(Out->ClearScreen, 1, Out);
	Column = Out->Mode->CursorColumn;
	Row = Out->Mode->CursorRow;
	CheckStatus(L"clear-screen", Status, EFI_SUCCESS);
	Check(Column == 0 && Row == 0, L"clear-screen-home", L"cursor %d,%d", Column, Row);

	/* Text moves the cursor one column per character (12 characters from column 5 do not wrap), CR LF
	 * goes to the start of the next row; nothing else is printed in between. */
	uefi_call_wrapper(Out->QueryMode, 4, Out, (UINTN)Out->Mode->Mode, &Columns, &Rows);
	Status = uefi_call_wrapper(Out->SetCursorPosition, 3, Out, 5, 3);
	At[0] = Out->Mode->CursorColumn;
	At[1] = Out->Mode->CursorRow;
	uefi_call_wrapper(Out->OutputString, 2, Out, L"textio-probe");
	At[2] = Out->Mode->CursorColumn;
	At[3] = Out->Mode->CursorRow;
	uefi_call_wrapper(Out->OutputString, 2, Out, L"\r\n");
	At[4] = Out->Mode->CursorColumn;
	At[5] = Out->Mode->CursorRow;
	Print(L"cursor set %d,%d after-text %d,%d after-newline %d,%d\n", At[0], At[1], At[2], At[3], At[4], At[5]);
	CheckStatus(L"set-cursor", Status, EFI_SUCCESS);
	Check(At[0] == 5 && At[1] == 3, L"set-cursor-mode", L"cursor %d,%d", At[0], At[1]);
	Check(At[2] == 17 && At[3] == 3, L"output-advances-cursor", L"cursor %d,%d", At[2], At[3]);
	Check(At[4] == 0 && At[5] == 4, L"crlf-moves-cursor", L"cursor %d,%d", At[4], At[5]);
	CheckStatus(L"set-cursor-outside",
		    uefi_call_wrapper(Out->SetCursorPosition, 3, Out, Columns, 0), EFI_UNSUPPORTED);

	CheckStatus(L"test-string", uefi_call_wrapper(Out->TestString, 2, Out, L"plain ASCII"), EFI_SUCCESS);
	Status = uefi_call_wrapper(Out->EnableCursor, 2, Out, TRUE);
	CheckStatusEither(L"enable-cursor", Status, EFI_SUCCESS, EFI_UNSUPPORTED);
}

/* UEFI 2.10 §12.3.3 ReadKeyStroke: EFI_NOT_READY without a key; WaitForKey is signalled when one is there.
 * Keys the host scripted before the start may already be waiting, so the first read accepts either. */
static VOID Keys(VOID)
{
	SIMPLE_INPUT_INTERFACE *In = ST->ConIn;
	EFI_INPUT_KEY Key;
	EFI_EVENT Timeout = NULL, Events[2];
	UINTN Read = 0, Index;
	EFI_STATUS Status;

	Status = uefi_call_wrapper(In->ReadKeyStroke, 2, In, &Key);
	CheckStatusEither(L"readkey-first", Status, EFI_NOT_READY, EFI_SUCCESS);
	if (Status == EFI_SUCCESS) {
		Read++;
		Print(L"key %ld scan 0x%x char 0x%x\n", (UINT64)Read, Key.ScanCode, Key.UnicodeChar);
	} else {
		CheckStatus(L"waitforkey-not-signalled", uefi_call_wrapper(BS->CheckEvent, 1, In->WaitForKey), EFI_NOT_READY);
	}

	Status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_TIMER, 0, NULL, NULL, &Timeout);
	if (!CheckStatus(L"key-timeout-timer", Status, EFI_SUCCESS))
		return;
	Events[0] = In->WaitForKey;
	Events[1] = Timeout;
	while (Read < MAX_KEYS) {
		uefi_call_wrapper(BS->SetTimer, 3, Timeout, TimerRelative, KEY_TIMEOUT);
		Index = 99;
		Status = uefi_call_wrapper(BS->WaitForEvent, 3, 2, Events, &Index);
		if (EFI_ERROR(Status) || Index != 0) {
			Print(L"wait-key status 0x%lx index %ld: no more keys\n", Status, (UINT64)Index);
			break;
		}
		Status = uefi_call_wrapper(In->ReadKeyStroke, 2, In, &Key);
		if (!CheckStatus(L"readkey-after-wait", Status, EFI_SUCCESS))
			break;
		Read++;
		Print(L"key %ld scan 0x%x char 0x%x\n", (UINT64)Read, Key.ScanCode, Key.UnicodeChar);
	}
	uefi_call_wrapper(BS->SetTimer, 3, Timeout, TimerCancel, 0);
	uefi_call_wrapper(BS->CloseEvent, 1, Timeout);
	Print(L"keys read %ld\n", (UINT64)Read);
}

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	(VOID)ImageHandle;
	SampleInit(L"textio", SystemTable);

	ShowMode(L"conout");
	Modes();
	AttributeAndCursor();
	ShowMode(L"conout-after");
	Keys();

	return SampleSummary();
}
