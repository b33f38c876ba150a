/* variables: GetVariable/SetVariable/GetNextVariableName/QueryVariableInfo and GetTime (UEFI 2.10 §8.2, §8.3). */
#include "sample.h"

#define NV_BS_RT (EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS)
#define BS_RT (EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS)

static EFI_GUID StubemuVendor = { 0x51c0a5e4, 0x2f1b, 0x4c3a, { 0x9d, 0x6e, 0x7a, 0x12, 0x84, 0x0b, 0x3e, 0x55 } };

static CHAR16 Name[] = L"StubemuSample";
static CHAR16 VolatileName[] = L"StubemuVolatile";

/* Reads Name into Data (Capacity bytes): status, size and attributes as GetVariable returns them. */
static EFI_STATUS Get(CHAR16 *VarName, UINT8 *Data, UINTN Capacity, UINTN *Size, UINT32 *Attributes)
{
	*Size = Capacity;
	*Attributes = 0;
	return uefi_call_wrapper(RT->GetVariable, 5, VarName, &StubemuVendor, Attributes, Size, Data);
}

/* Prints "<label> data "<ascii>" size 0x.. attributes 0x.." for a successful read. */
static VOID ShowGet(CONST CHAR16 *Label, EFI_STATUS Status, UINT8 *Data, UINTN Size, UINT32 Attributes)
{
	CHAR16 Text[64];
	UINTN I;

	if (EFI_ERROR(Status))
		return;
	for (I = 0; I < Size && I < 63; I++)
		Text[I] = Data[I];
	Text[I] = 0;
	Print(L"%s data \"%s\" size 0x%lx attributes 0x%x\n", Label, Text, (UINT64)Size, Attributes);
}

static VOID SetGetAppend(VOID)
{
	UINT8 Data[64];
	UINTN Size = 0;
	UINT32 Attributes = 0;
	EFI_STATUS Status;

	Status = uefi_call_wrapper(RT->SetVariable, 5, Name, &StubemuVendor, NV_BS_RT, 5, "hello");
	CheckStatus(L"set", Status, EFI_SUCCESS);

	/* UEFI 2.10 §8.2.1 GetVariable: EFI_BUFFER_TOO_SMALL sets DataSize to the size needed. */
	Status = Get(Name, Data, 0, &Size, &Attributes);
	Print(L"get-too-small size 0x%lx\n", (UINT64)Size);
	CheckStatus(L"get-too-small", Status, EFI_BUFFER_TOO_SMALL);
	Check(Size == 5, L"get-too-small-size", L"size 0x%lx", (UINT64)Size);

	Status = Get(Name, Data, sizeof(Data), &Size, &Attributes);
	CheckStatus(L"get", Status, EFI_SUCCESS);
	ShowGet(L"get", Status, Data, Size, Attributes);
	Check(Size == 5 && CompareMem(Data, "hello", 5) == 0 && Attributes == NV_BS_RT, L"get-data",
	      L"size 0x%lx attributes 0x%x", (UINT64)Size, Attributes);

	/* UEFI 2.10 §8.2.3 SetVariable: EFI_VARIABLE_APPEND_WRITE adds to the end of the data. */
	Status = uefi_call_wrapper(RT->SetVariable, 5, Name, &StubemuVendor, NV_BS_RT | EFI_VARIABLE_APPEND_WRITE, 6,
				   " world");
	CheckStatus(L"append", Status, EFI_SUCCESS);
	Status = Get(Name, Data, sizeof(Data), &Size, &Attributes);
	CheckStatus(L"get-appended", Status, EFI_SUCCESS);
	ShowGet(L"get-appended", Status, Data, Size, Attributes);
	Check(Size == 11 && CompareMem(Data, "hello world", 11) == 0, L"get-appended-data",
	      L"size 0x%lx", (UINT64)Size);

	/* Attributes may be omitted (OPTIONAL) when reading. */
	Size = sizeof(Data);
	Status = uefi_call_wrapper(RT->GetVariable, 5, Name, &StubemuVendor, NULL, &Size, Data);
	CheckStatus(L"get-null-attributes", Status, EFI_SUCCESS);

	Status = uefi_call_wrapper(RT->SetVariable, 5, VolatileName, &StubemuVendor, BS_RT, 4, "vola");
	CheckStatus(L"set-volatile", Status, EFI_SUCCESS);
	Status = Get(VolatileName, Data, sizeof(Data), &Size, &Attributes);
	CheckStatus(L"get-volatile", Status, EFI_SUCCESS);
	ShowGet(L"get-volatile", Status, Data, Size, Attributes);
	Check(Attributes == BS_RT && Size == 4 && CompareMem(Data, "vola", 4) == 0, L"get-volatile-data",
	      L"size 0x%lx attributes 0x%x", (UINT64)Size, Attributes);
}

/* Parameter checks, UEFI 2.10 §8.2.1 and §8.2.3. */
static VOID Invalid(VOID)
{
	UINT8 Data[64]; /* large enough for every variable, so only the NULL pointer is wrong */
	UINTN Size;
	UINT32 Attributes;
	UINT8 One = 1;

	CheckStatus(L"set-different-attributes",
		    uefi_call_wrapper(RT->SetVariable, 5, Name, &StubemuVendor, BS_RT, 3, "bad"), EFI_INVALID_PARAMETER);
	CheckStatus(L"set-runtime-without-bs",
		    uefi_call_wrapper(RT->SetVariable, 5, L"StubemuBad", &StubemuVendor, EFI_VARIABLE_RUNTIME_ACCESS, 1,
				      "x"),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"set-empty-name", uefi_call_wrapper(RT->SetVariable, 5, L"", &StubemuVendor, BS_RT, 1, "x"),
		    EFI_INVALID_PARAMETER);
	Size = sizeof(Data);
	CheckStatus(L"get-null-name",
		    uefi_call_wrapper(RT->GetVariable, 5, NULL, &StubemuVendor, &Attributes, &Size, Data),
		    EFI_INVALID_PARAMETER);
	Size = sizeof(Data);
	CheckStatus(L"get-null-data", uefi_call_wrapper(RT->GetVariable, 5, Name, &StubemuVendor, &Attributes, &Size, NULL),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"get-missing", Get(L"StubemuMissing", Data, sizeof(Data), &Size, &Attributes), EFI_NOT_FOUND);

	/* SecureBoot is the firmware's to report, read-only to everyone else (UEFI 2.10 §3.3). */
	Size = sizeof(Data);
	Data[0] = 0xEE;
	CheckStatus(L"get-secureboot",
		    uefi_call_wrapper(RT->GetVariable, 5, L"SecureBoot", &EfiGlobalVariable, &Attributes, &Size, Data),
		    EFI_SUCCESS);
	Print(L"SecureBoot size 0x%lx value 0x%x\n", (UINT64)Size, Data[0]);
	CheckStatus(L"set-secureboot", uefi_call_wrapper(RT->SetVariable, 5, L"SecureBoot", &EfiGlobalVariable, BS_RT, 1, &One),
		    EFI_WRITE_PROTECTED);
}

/* UEFI 2.10 §8.2.2 GetNextVariableName: walks every variable; our two must be among them. */
static VOID Enumerate(VOID)
{
	CHAR16 Buf[128];
	EFI_GUID Guid;
	UINTN Size, Count = 0, Ours = 0;
	EFI_STATUS Status;

	Buf[0] = 0;
	Size = sizeof(CHAR16);
	Status = uefi_call_wrapper(RT->GetNextVariableName, 3, &Size, Buf, &Guid);
	Print(L"next-too-small size 0x%lx\n", (UINT64)Size);
	CheckStatus(L"next-too-small", Status, EFI_BUFFER_TOO_SMALL);
	Check(Size > sizeof(CHAR16), L"next-too-small-size", L"size 0x%lx", (UINT64)Size);

	Buf[0] = 0;
	for (;;) {
		Size = sizeof(Buf);
		Status = uefi_call_wrapper(RT->GetNextVariableName, 3, &Size, Buf, &Guid);
		if (Status != EFI_SUCCESS)
			break;
		Count++;
		if (CompareGuid(&Guid, &StubemuVendor) == 0 &&
		    (SameString16(Buf, Name, sizeof(Name) / 2) || SameString16(Buf, VolatileName, sizeof(VolatileName) / 2)))
			Ours++;
		if (Count > 1000)
			break;
	}
	Print(L"next-variable count %ld ours %ld end-status 0x%lx\n", (UINT64)Count, (UINT64)Ours, Status);
	CheckStatus(L"next-variable-end", Status, EFI_NOT_FOUND);
	Check(Ours == 2, L"next-variable-finds-ours", L"found %ld of 2", (UINT64)Ours);

	StrCpy(Buf, L"StubemuNoSuchVariable");
	Size = sizeof(Buf);
	Status = uefi_call_wrapper(RT->GetNextVariableName, 3, &Size, Buf, &StubemuVendor);
	CheckStatus(L"next-unknown-name", Status, EFI_INVALID_PARAMETER);
}

static VOID Query(VOID)
{
	UINT64 MaxStorage = 0, Remaining = 0, MaxSize = 0;
	EFI_STATUS Status;

	/* QueryVariableInfo arrived with UEFI 2.0 (EFI_RUNTIME_SERVICES revision 2.0). */
	if (RT->Hdr.Revision < (2 << 16)) {
		Check(FALSE, L"query", L"runtime services revision 0x%x has no QueryVariableInfo", RT->Hdr.Revision);
		return;
	}
	Status = uefi_call_wrapper(RT->QueryVariableInfo, 4, NV_BS_RT, &MaxStorage, &Remaining, &MaxSize);
	Print(L"query max-storage 0x%lx remaining 0x%lx max-variable-size 0x%lx\n", MaxStorage, Remaining, MaxSize);
	if (CheckStatus(L"query", Status, EFI_SUCCESS))
		Check(MaxStorage > 0 && Remaining <= MaxStorage && MaxSize > 0 && MaxSize <= MaxStorage, L"query-values",
		      L"inconsistent sizes");
	CheckStatus(L"query-zero-attributes",
		    uefi_call_wrapper(RT->QueryVariableInfo, 4, 0, &MaxStorage, &Remaining, &MaxSize),
		    EFI_INVALID_PARAMETER);
}

/* UEFI 2.10 §8.2.3: DataSize 0 without APPEND_WRITE deletes; deleting what is not there is EFI_NOT_FOUND. */
static VOID Delete(VOID)
{
	UINT8 Data[16];
	UINTN Size;
	UINT32 Attributes;

	CheckStatus(L"delete", uefi_call_wrapper(RT->SetVariable, 5, Name, &StubemuVendor, NV_BS_RT, 0, NULL), EFI_SUCCESS);
	CheckStatus(L"get-deleted", Get(Name, Data, sizeof(Data), &Size, &Attributes), EFI_NOT_FOUND);
	CheckStatus(L"delete-again", uefi_call_wrapper(RT->SetVariable, 5, Name, &StubemuVendor, NV_BS_RT, 0, NULL),
		    EFI_NOT_FOUND);
	CheckStatus(L"delete-volatile", uefi_call_wrapper(RT->SetVariable, 5, VolatileName, &StubemuVendor, BS_RT, 0, NULL),
		    EFI_SUCCESS);
}

static BOOLEAN TimeValid(CONST EFI_TIME *T)
{
	return T->Year >= 1900 && T->Year <= 9999 && T->Month >= 1 && T->Month <= 12 && T->Day >= 1 && T->Day <= 31 &&
	       T->Hour <= 23 && T->Minute <= 59 && T->Second <= 59 && T->Nanosecond <= 999999999 &&
	       ((T->TimeZone >= -1440 && T->TimeZone <= 1440) || T->TimeZone == EFI_UNSPECIFIED_TIMEZONE);
}

/* UEFI 2.10 §8.3.1 GetTime; BS->Stall of 1.1 s must move the clock by at least one second. */
static VOID Time(VOID)
{
	EFI_TIME T, After;
	EFI_TIME_CAPABILITIES Caps;
	EFI_STATUS Status;
	INTN Elapsed;

	Status = uefi_call_wrapper(RT->GetTime, 2, &T, &Caps);
	if (!CheckStatus(L"get-time", Status, EFI_SUCCESS))
		return;
	Print(L"time %04d-%02d-%02d %02d:%02d:%02d nanosecond %d timezone %d daylight 0x%x\n", T.Year, T.Month, T.Day,
	      T.Hour, T.Minute, T.Second, T.Nanosecond, T.TimeZone, T.Daylight);
	Print(L"time-capabilities resolution %d accuracy %d sets-to-zero %d\n", Caps.Resolution, Caps.Accuracy,
	      Caps.SetsToZero);
	Check(TimeValid(&T), L"get-time-fields", L"field out of range");
	CheckStatus(L"get-time-null", uefi_call_wrapper(RT->GetTime, 2, NULL, NULL), EFI_INVALID_PARAMETER);

	uefi_call_wrapper(BS->Stall, 1, 1100000);
	Status = uefi_call_wrapper(RT->GetTime, 2, &After, NULL);
	Elapsed = ((INTN)After.Hour * 3600 + After.Minute * 60 + After.Second) -
		  ((INTN)T.Hour * 3600 + T.Minute * 60 + T.Second);
	if (Elapsed < 0)
		Elapsed += 86400;
	Print(L"time-after-stall %02d:%02d:%02d elapsed %ld\n", After.Hour, After.Minute, After.Second, (INT64)Elapsed);
	Check(Status == EFI_SUCCESS && Elapsed >= 1 && Elapsed <= 3, L"stall-advances-time", L"elapsed %ld s",
	      (INT64)Elapsed);
}

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	(VOID)ImageHandle;
	SampleInit(L"variables", SystemTable);

	SetGetAppend();
	Invalid();
	Enumerate();
	Query();
	Delete();
	Time();

	return SampleSummary();
}
