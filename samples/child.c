/* child: the image images.efi loads and starts — prints its LoadOptions and ImageBase, then leaves through BS->Exit with exit data. */
#include "sample.h"
#include "child.h"

/* gnu-efi's linker script (elf_x86_64_efi.lds) puts ImageBase at the image's first byte. */
extern CHAR8 ImageBase;

/* ExitDataSize is in bytes and counts the NUL (UEFI 2.10 §7.4.5). */
static CONST CHAR16 ChildExitData[] = CHILD_EXIT_DATA;

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	EFI_LOADED_IMAGE *Li = NULL;
	CHAR16 Options[64];
	CHAR16 *ExitData = NULL;
	EFI_STATUS Status;
	UINTN I, Chars;

	SampleInit(L"child", SystemTable);

	Status = uefi_call_wrapper(BS->HandleProtocol, 3, ImageHandle, &LoadedImageProtocol, (VOID **)&Li);
	if (!CheckStatus(L"child-loaded-image", Status, EFI_SUCCESS) || Li == NULL)
		return SampleSummary();

	/* LoadOptions is whatever the loader put there: bytes, maybe not NUL-terminated. */
	Print(L"child load-options-size 0x%x\n", Li->LoadOptionsSize);
	if (Li->LoadOptions != NULL && Li->LoadOptionsSize >= sizeof(CHAR16)) {
		Chars = Li->LoadOptionsSize / sizeof(CHAR16);
		if (Chars > sizeof(Options) / sizeof(Options[0]) - 1)
			Chars = sizeof(Options) / sizeof(Options[0]) - 1;
		for (I = 0; I < Chars; I++)
			Options[I] = ((CONST CHAR16 *)Li->LoadOptions)[I];
		Options[Chars] = 0;
		Print(L"child load-options \"%s\"\n", Options);
	} else {
		Print(L"child load-options none\n");
	}

	Print(L"child image-base 0x%lx image-size 0x%lx\n", (UINT64)Li->ImageBase, Li->ImageSize);
	Check(Li->ImageBase == (VOID *)&ImageBase, L"child-image-base", L"LoadedImage says 0x%lx, running at 0x%lx",
	      (UINT64)Li->ImageBase, (UINT64)&ImageBase);
	/* UEFI 2.10 §7.4.1 LoadImage: an application's code and data are EfiLoaderCode and EfiLoaderData. */
	Check(Li->ImageCodeType == EfiLoaderCode && Li->ImageDataType == EfiLoaderData, L"child-image-types",
	      L"code type %d data type %d", Li->ImageCodeType, Li->ImageDataType);
	SampleSummary();

	/* UEFI 2.10 §7.4.5 Exit: ExitData must come from AllocatePool; the caller of StartImage frees it. */
	Status = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, sizeof(ChildExitData), (VOID **)&ExitData);
	if (EFI_ERROR(Status)) {
		Print(L"child exit-data allocation status 0x%lx\n", Status);
		ExitData = NULL;
	} else {
		for (I = 0; I < sizeof(ChildExitData) / sizeof(CHAR16); I++)
			ExitData[I] = ChildExitData[I];
	}
	Print(L"child calling Exit status 0x%lx exit-data-size 0x%lx\n", CHILD_EXIT_STATUS,
	      (UINT64)(ExitData ? sizeof(ChildExitData) : 0));
	Status = uefi_call_wrapper(BS->Exit, 4, ImageHandle, CHILD_EXIT_STATUS,
				   ExitData ? sizeof(ChildExitData) : 0, ExitData);

	/* Exit does not return on success. */
	Print(L"FAIL child-exit: Exit returned 0x%lx\n", Status);
	return Status;
}
