/*
 * EFI_MEMORY_ATTRIBUTE_PROTOCOL (UEFI 2.10 §37.7) as systemd-stub 258+ uses it for the kernel it loads itself:
 * code written into EfiLoaderCode pages, then made executable (XP cleared) and read-only (RO set), then called;
 * the same page made writable again, rewritten and called once more must run the new code, not a stale copy.
 */
#include "sample.h"

#ifndef EFI_MEMORY_RO
#define EFI_MEMORY_RO 0x0000000000020000ULL
#endif

/* UEFI 2.10 §37.7.1, members in spec order (gnu-efi 3.0.15 does not declare the protocol). */
typedef struct SAMPLE_MEMORY_ATTRIBUTE_PROTOCOL SAMPLE_MEMORY_ATTRIBUTE_PROTOCOL;
struct SAMPLE_MEMORY_ATTRIBUTE_PROTOCOL {
	EFI_STATUS (EFIAPI *GetMemoryAttributes)(SAMPLE_MEMORY_ATTRIBUTE_PROTOCOL *This, EFI_PHYSICAL_ADDRESS BaseAddress,
		UINT64 Length, UINT64 *Attributes);
	EFI_STATUS (EFIAPI *SetMemoryAttributes)(SAMPLE_MEMORY_ATTRIBUTE_PROTOCOL *This, EFI_PHYSICAL_ADDRESS BaseAddress,
		UINT64 Length, UINT64 Attributes);
	EFI_STATUS (EFIAPI *ClearMemoryAttributes)(SAMPLE_MEMORY_ATTRIBUTE_PROTOCOL *This, EFI_PHYSICAL_ADDRESS BaseAddress,
		UINT64 Length, UINT64 Attributes);
};

static EFI_GUID MemoryAttributeGuid = { 0xf4560cf6, 0x40ec, 0x4b4a, { 0xa1, 0x92, 0xbf, 0x1d, 0x57, 0xd0, 0xb1, 0x89 } };

/* mov eax, imm32; ret */
static VOID WriteReturnConstant(UINT8 *Code, UINT32 Value)
{
	Code[0] = 0xb8;
	Code[1] = (UINT8)Value;
	Code[2] = (UINT8)(Value >> 8);
	Code[3] = (UINT8)(Value >> 16);
	Code[4] = (UINT8)(Value >> 24);
	Code[5] = 0xc3;
}

/* Clears XP and sets RO on the page, as a loader does before it jumps into code it placed. */
static BOOLEAN MakeExecutable(SAMPLE_MEMORY_ATTRIBUTE_PROTOCOL *Attr, EFI_PHYSICAL_ADDRESS Page, CONST CHAR16 *Step)
{
	EFI_STATUS Status = uefi_call_wrapper(Attr->ClearMemoryAttributes, 4, Attr, Page, EFI_PAGE_SIZE, EFI_MEMORY_XP);
	if (!CheckStatus(Step, Status, EFI_SUCCESS))
		return FALSE;
	Status = uefi_call_wrapper(Attr->SetMemoryAttributes, 4, Attr, Page, EFI_PAGE_SIZE, EFI_MEMORY_RO);
	return CheckStatus(L"set-ro", Status, EFI_SUCCESS);
}

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	SAMPLE_MEMORY_ATTRIBUTE_PROTOCOL *Attr = NULL;
	EFI_PHYSICAL_ADDRESS Page = 0;
	UINT64 Attributes = 0;
	UINT32 (*Code)(VOID);
	EFI_STATUS Status;

	(VOID)ImageHandle;
	SampleInit(L"memattr", SystemTable);

	Status = uefi_call_wrapper(BS->LocateProtocol, 3, &MemoryAttributeGuid, NULL, (VOID **)&Attr);
	if (!CheckStatus(L"locate", Status, EFI_SUCCESS))
		return SampleSummary();
	Status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderCode, 1, &Page);
	if (!CheckStatus(L"allocate", Status, EFI_SUCCESS))
		return SampleSummary();
	Code = (UINT32 (*)(VOID))(UINTN)Page;

	WriteReturnConstant((UINT8 *)(UINTN)Page, 0x1111);
	if (!MakeExecutable(Attr, Page, L"clear-xp"))
		return SampleSummary();
	Status = uefi_call_wrapper(Attr->GetMemoryAttributes, 4, Attr, Page, EFI_PAGE_SIZE, &Attributes);
	CheckStatus(L"get", Status, EFI_SUCCESS);
	Print(L"attributes 0x%lx\n", Attributes);
	Check((Attributes & (EFI_MEMORY_XP | EFI_MEMORY_RO)) == EFI_MEMORY_RO, L"attributes",
		L"expected RO without XP, got 0x%lx", Attributes);
	UINT32 First = Code();
	Print(L"first call 0x%x\n", First);
	Check(First == 0x1111, L"first-call", L"expected 0x1111, got 0x%x", First);

	/* Writable again, rewritten in place, executable again: the new bytes must run. */
	Status = uefi_call_wrapper(Attr->ClearMemoryAttributes, 4, Attr, Page, EFI_PAGE_SIZE, EFI_MEMORY_RO);
	CheckStatus(L"clear-ro", Status, EFI_SUCCESS);
	Status = uefi_call_wrapper(Attr->SetMemoryAttributes, 4, Attr, Page, EFI_PAGE_SIZE, EFI_MEMORY_XP);
	CheckStatus(L"set-xp", Status, EFI_SUCCESS);
	WriteReturnConstant((UINT8 *)(UINTN)Page, 0x2222);
	if (!MakeExecutable(Attr, Page, L"clear-xp-again"))
		return SampleSummary();
	UINT32 Second = Code();
	Print(L"second call 0x%x\n", Second);
	Check(Second == 0x2222, L"second-call", L"expected 0x2222 (the rewritten code), got 0x%x", Second);

	Status = uefi_call_wrapper(BS->FreePages, 2, Page, 1);
	CheckStatus(L"free", Status, EFI_SUCCESS);
	return SampleSummary();
}
