/* Shared by every sample: gnu-efi globals, PASS/FAIL lines with raw values, and the summary line. */
#ifndef STUBEMU_SAMPLE_H
#define STUBEMU_SAMPLE_H

#include <efi.h>
#include <efilib.h>

/*
 * Output contract (samples/README.md): every line ends in "\r\n" (gnu-efi Print turns "\n" into "\r\n");
 * numbers in hex come from gnu-efi's %lx, so they have upper-case digits and no leading zeros.
 *   "<check> status 0x<hex>"   raw status a check compared
 *   "PASS <check>"             check held inside the guest
 *   "FAIL <check>: <why>"      check did not hold
 *   "<sample>: N passed, M failed"  last line before the program returns (or calls ExitBootServices)
 */

static UINTN SamplePassed;
static UINTN SampleFailed;
static CONST CHAR16 *SampleName;

/*
 * InitializeLib would also call HandleProtocol, GetVariable("EFIDebug"), GetVariable("Lang") and
 * LocateHandle(UnicodeCollation) before the sample starts; the samples set the three globals gnu-efi's
 * Print needs (it reads ST->ConOut and ConOut->Mode->Attribute) so a trace holds only the services a
 * sample exercises.
 */
static inline VOID SampleInit(CONST CHAR16 *Name, EFI_SYSTEM_TABLE *SystemTable)
{
	ST = SystemTable;
	BS = SystemTable->BootServices;
	RT = SystemTable->RuntimeServices;
	SampleName = Name;
	SamplePassed = 0;
	SampleFailed = 0;
}

/* Prints "PASS <check>" or "FAIL <check>: <why>" (why is a Print format) and returns Ok. */
static inline BOOLEAN Check(BOOLEAN Ok, CONST CHAR16 *Name, CONST CHAR16 *WhyFormat, ...)
{
	CHAR16 Why[160];
	va_list Args;

	if (Ok) {
		SamplePassed++;
		Print(L"PASS %s\n", Name);
		return TRUE;
	}
	SampleFailed++;
	va_start(Args, WhyFormat);
	UnicodeVSPrint(Why, sizeof(Why), WhyFormat, Args);
	va_end(Args);
	Print(L"FAIL %s: %s\n", Name, Why);
	return FALSE;
}

/* Prints "<check> status 0x<hex>" then the check that Got equals Want. */
static inline BOOLEAN CheckStatus(CONST CHAR16 *Name, EFI_STATUS Got, EFI_STATUS Want)
{
	Print(L"%s status 0x%lx\n", Name, Got);
	return Check(Got == Want, Name, L"expected status 0x%lx", Want);
}

/* As CheckStatus, for services where the spec leaves a choice between two statuses. */
static inline BOOLEAN CheckStatusEither(CONST CHAR16 *Name, EFI_STATUS Got, EFI_STATUS Want1, EFI_STATUS Want2)
{
	Print(L"%s status 0x%lx\n", Name, Got);
	return Check(Got == Want1 || Got == Want2, Name, L"expected status 0x%lx or 0x%lx", Want1, Want2);
}

/* Prints the summary line; the program's status says whether every check held. */
static inline EFI_STATUS SampleSummary(VOID)
{
	Print(L"%s: %ld passed, %ld failed\n", SampleName, (UINT64)SamplePassed, (UINT64)SampleFailed);
	return SampleFailed == 0 ? EFI_SUCCESS : EFI_ABORTED;
}

/*
 * UEFI 2.10 §7.4.6: ExitBootServices with the MapKey of a map read just before; one retry, as the Linux EFI
 * stub does, when something changed the map in between. Map/Capacity is a buffer allocated beforehand (an
 * allocation here would change the map). The firmware ends the run at a successful ExitBootServices, so
 * the line before the call is the guest's last; on failure the status is printed and returned.
 */
static inline EFI_STATUS SampleExitBootServices(EFI_HANDLE ImageHandle, VOID *Map, UINTN Capacity)
{
	UINTN Size, Key = 0, DescSize = 0;
	UINT32 DescVersion = 0;
	EFI_STATUS Status = EFI_SUCCESS;
	int Try;

	Print(L"calling ExitBootServices with fresh key\n");
	for (Try = 0; Try < 2; Try++) {
		Size = Capacity;
		Status = uefi_call_wrapper(BS->GetMemoryMap, 5, &Size, Map, &Key, &DescSize, &DescVersion);
		if (EFI_ERROR(Status))
			break;
		Status = uefi_call_wrapper(BS->ExitBootServices, 2, ImageHandle, Key);
		if (Status == EFI_SUCCESS)
			return EFI_SUCCESS;
	}
	Print(L"ExitBootServices with fresh key status 0x%lx\n", Status);
	return Status;
}

/* UCS-2 comparison that stops at Max characters, for strings the firmware hands back. */
static inline BOOLEAN SameString16(CONST CHAR16 *A, CONST CHAR16 *B, UINTN Max)
{
	UINTN I;

	for (I = 0; I < Max; I++) {
		if (A[I] != B[I])
			return FALSE;
		if (A[I] == 0)
			return TRUE;
	}
	return FALSE;
}

#endif
