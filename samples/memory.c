/* memory: AllocatePages/FreePages, AllocatePool/FreePool, GetMemoryMap and ExitBootServices' MapKey check (UEFI 2.10 §7.2, §7.4). */
#include "sample.h"

#define PAGE_SIZE 4096
#define LIMIT_4G 0xFFFFFFFFULL
#define LIMIT_LOW 0x00FFFFFFULL /* 16 MiB: OVMF and the emulator both have free RAM below it */
#define BAD_MEMORY_TYPE ((EFI_MEMORY_TYPE)0x10) /* EfiMaxMemoryType in UEFI 2.10; 0x10..0x6FFFFFFF are invalid */

/* A pattern that differs per address and per seed, so overlapping or unbacked buffers show up. */
static UINT8 PatternByte(UINTN Offset, UINT8 Seed)
{
	return (UINT8)((Offset * 131u + (Offset >> 8) * 7u + Seed) & 0xFF);
}

static VOID Fill(VOID *Buffer, UINTN Size, UINT8 Seed)
{
	UINT8 *P = Buffer;
	UINTN I;

	for (I = 0; I < Size; I++)
		P[I] = PatternByte(I, Seed);
}

/* Returns the number of bytes that do not hold the pattern. */
static UINTN Mismatches(CONST VOID *Buffer, UINTN Size, UINT8 Seed)
{
	CONST UINT8 *P = Buffer;
	UINTN I, Bad = 0;

	for (I = 0; I < Size; I++)
		if (P[I] != PatternByte(I, Seed))
			Bad++;
	return Bad;
}

static VOID PagesAnyAndMax(VOID)
{
	EFI_PHYSICAL_ADDRESS Addr = 0;
	EFI_STATUS Status;
	UINTN Bad;

	Status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 3, &Addr);
	Print(L"alloc-any pages 0x%lx count 3 type %d\n", Addr, EfiLoaderData);
	if (CheckStatus(L"alloc-any", Status, EFI_SUCCESS)) {
		Check(Addr % PAGE_SIZE == 0, L"alloc-any-aligned", L"0x%lx is not page-aligned", Addr);
		Fill((VOID *)Addr, 3 * PAGE_SIZE, 0x11);
		Bad = Mismatches((VOID *)Addr, 3 * PAGE_SIZE, 0x11);
		Check(Bad == 0, L"alloc-any-pattern", L"%ld bytes differ after write", (UINT64)Bad);
		CheckStatus(L"free-any", uefi_call_wrapper(BS->FreePages, 2, Addr, 3), EFI_SUCCESS);
	}

	/* UEFI 2.10 §7.2 AllocatePages: AllocateMaxAddress bounds the uppermost address of the range. */
	Addr = LIMIT_4G;
	Status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress, EfiLoaderData, 2, &Addr);
	Print(L"alloc-below-4g pages 0x%lx count 2 type %d\n", Addr, EfiLoaderData);
	if (CheckStatus(L"alloc-below-4g", Status, EFI_SUCCESS)) {
		Check(Addr + 2 * PAGE_SIZE - 1 <= LIMIT_4G, L"alloc-below-4g-limit", L"end 0x%lx above 0x%lx",
		      Addr + 2 * PAGE_SIZE - 1, LIMIT_4G);
		uefi_call_wrapper(BS->FreePages, 2, Addr, 2);
	}

	Addr = LIMIT_LOW;
	Status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress, EfiLoaderData, 1, &Addr);
	Print(L"alloc-below-16m pages 0x%lx count 1 type %d\n", Addr, EfiLoaderData);
	if (CheckStatus(L"alloc-below-16m", Status, EFI_SUCCESS)) {
		Check(Addr + PAGE_SIZE - 1 <= LIMIT_LOW, L"alloc-below-16m-limit", L"end 0x%lx above 0x%lx",
		      Addr + PAGE_SIZE - 1, LIMIT_LOW);
		uefi_call_wrapper(BS->FreePages, 2, Addr, 1);
	}
}

/* Frees an allocation and takes the same pages back with AllocateAddress; returns them (still allocated). */
static EFI_PHYSICAL_ADDRESS PagesAtAddress(VOID)
{
	EFI_PHYSICAL_ADDRESS First = 0, Again, Busy;
	EFI_STATUS Status;

	Status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 2, &First);
	if (!CheckStatus(L"alloc-for-address", Status, EFI_SUCCESS))
		return 0;
	uefi_call_wrapper(BS->FreePages, 2, First, 2);
	/* UEFI 2.10 §7.2 FreePages: EFI_NOT_FOUND when the pages were not allocated with AllocatePages. */
	CheckStatus(L"free-twice", uefi_call_wrapper(BS->FreePages, 2, First, 2), EFI_NOT_FOUND);

	Again = First;
	Status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderData, 2, &Again);
	Print(L"alloc-address pages 0x%lx count 2 type %d\n", Again, EfiLoaderData);
	if (!CheckStatus(L"alloc-address", Status, EFI_SUCCESS))
		return 0;
	Check(Again == First, L"alloc-address-same", L"asked 0x%lx, got 0x%lx", First, Again);

	Busy = First;
	Status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress, EfiLoaderData, 1, &Busy);
	CheckStatus(L"alloc-address-in-use", Status, EFI_NOT_FOUND);
	return First;
}

/* Parameter checks in the order UEFI 2.10 §7.2 lists them. */
static VOID PagesInvalid(EFI_PHYSICAL_ADDRESS Held)
{
	EFI_PHYSICAL_ADDRESS Addr = 0;

	CheckStatus(L"alloc-bad-alloc-type",
		    uefi_call_wrapper(BS->AllocatePages, 4, MaxAllocateType, EfiLoaderData, 1, &Addr),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"alloc-bad-memory-type",
		    uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, BAD_MEMORY_TYPE, 1, &Addr),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"alloc-conventional",
		    uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiConventionalMemory, 1, &Addr),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"alloc-null-memory",
		    uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 1, NULL),
		    EFI_INVALID_PARAMETER);
	if (Held != 0)
		CheckStatus(L"free-misaligned", uefi_call_wrapper(BS->FreePages, 2, Held + 1, 1),
			    EFI_INVALID_PARAMETER);
}

static VOID Pool(VOID)
{
	static CONST UINTN Sizes[] = { 1, 7, 8, 24, 100, 4095, 4096, 65537 };
	VOID *Buffers[sizeof(Sizes) / sizeof(Sizes[0])];
	UINTN N = sizeof(Sizes) / sizeof(Sizes[0]);
	UINTN I, Misaligned = 0, Bad = 0, Failed = 0, FreeFailed = 0;
	EFI_STATUS Status;
	VOID *Unused;

	for (I = 0; I < N; I++) {
		Buffers[I] = NULL;
		Status = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, Sizes[I], &Buffers[I]);
		Print(L"pool size 0x%lx addr 0x%lx status 0x%lx\n", (UINT64)Sizes[I], (UINT64)Buffers[I], Status);
		if (EFI_ERROR(Status) || Buffers[I] == NULL) {
			Failed++;
			Buffers[I] = NULL;
			continue;
		}
		if ((UINTN)Buffers[I] % 8 != 0)
			Misaligned++;
		Fill(Buffers[I], Sizes[I], (UINT8)(0x40 + I));
	}
	/* Verified only after every buffer was written: overlapping allocations would clobber each other. */
	for (I = 0; I < N; I++)
		if (Buffers[I] != NULL)
			Bad += Mismatches(Buffers[I], Sizes[I], (UINT8)(0x40 + I));
	for (I = 0; I < N; I++)
		if (Buffers[I] != NULL && EFI_ERROR(uefi_call_wrapper(BS->FreePool, 1, Buffers[I])))
			FreeFailed++;

	Check(Failed == 0, L"pool-allocate", L"%ld of %ld allocations failed", (UINT64)Failed, (UINT64)N);
	Check(Misaligned == 0, L"pool-align8", L"%ld buffers not 8-byte aligned", (UINT64)Misaligned);
	Check(Bad == 0, L"pool-pattern", L"%ld bytes differ after write", (UINT64)Bad);
	Check(FreeFailed == 0, L"pool-free", L"%ld FreePool calls failed", (UINT64)FreeFailed);

	CheckStatus(L"pool-bad-type", uefi_call_wrapper(BS->AllocatePool, 3, BAD_MEMORY_TYPE, 16, &Unused),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"pool-null-buffer", uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, 16, NULL),
		    EFI_INVALID_PARAMETER);
	CheckStatus(L"pool-free-null", uefi_call_wrapper(BS->FreePool, 1, NULL), EFI_INVALID_PARAMETER);
}

#define DESC(Map, Size, I) ((EFI_MEMORY_DESCRIPTOR *)((UINT8 *)(Map) + (I) * (Size)))

/* Fills Map (capacity *Size bytes) and returns GetMemoryMap's status. */
static EFI_STATUS GetMap(EFI_MEMORY_DESCRIPTOR *Map, UINTN Capacity, UINTN *Size, UINTN *Key, UINTN *DescSize,
			 UINT32 *DescVersion)
{
	*Size = Capacity;
	return uefi_call_wrapper(BS->GetMemoryMap, 5, Size, Map, Key, DescSize, DescVersion);
}

/* Prints the map and checks it; Held is a LoaderData allocation that must appear in it. */
static VOID ShowMap(EFI_MEMORY_DESCRIPTOR *Map, UINTN Size, UINTN DescSize, UINT32 DescVersion,
		    EFI_PHYSICAL_ADDRESS Held)
{
	UINTN Count = DescSize ? Size / DescSize : 0, I, J;
	UINT64 Conventional = 0;
	UINTN Unaligned = 0, Overlaps = 0;
	BOOLEAN HeldFound = FALSE;

	Print(L"map descriptors %ld descriptor-size 0x%lx descriptor-version %d\n", (UINT64)Count, (UINT64)DescSize,
	      DescVersion);
	for (I = 0; I < Count; I++) {
		EFI_MEMORY_DESCRIPTOR *D = DESC(Map, DescSize, I);
		UINT64 End = D->PhysicalStart + D->NumberOfPages * PAGE_SIZE;

		Print(L"desc %ld type %d start 0x%lx pages 0x%lx attr 0x%lx\n", (UINT64)I, D->Type, D->PhysicalStart,
		      D->NumberOfPages, D->Attribute);
		if (D->Type == EfiConventionalMemory)
			Conventional += D->NumberOfPages;
		if (D->PhysicalStart % PAGE_SIZE != 0 || D->NumberOfPages == 0)
			Unaligned++;
		if (Held != 0 && D->Type == EfiLoaderData && D->PhysicalStart <= Held && Held + 2 * PAGE_SIZE <= End)
			HeldFound = TRUE;
		for (J = I + 1; J < Count; J++) {
			EFI_MEMORY_DESCRIPTOR *E = DESC(Map, DescSize, J);
			if (E->PhysicalStart < End && D->PhysicalStart < E->PhysicalStart + E->NumberOfPages * PAGE_SIZE)
				Overlaps++;
		}
	}
	Print(L"conventional-pages 0x%lx\n", Conventional);

	/* UEFI 2.10 §7.2 GetMemoryMap: DescriptorSize may exceed sizeof(EFI_MEMORY_DESCRIPTOR). */
	Check(DescVersion == EFI_MEMORY_DESCRIPTOR_VERSION, L"map-version", L"version %d", DescVersion);
	Check(DescSize >= sizeof(EFI_MEMORY_DESCRIPTOR) && DescSize % 8 == 0, L"map-descriptor-size",
	      L"descriptor size 0x%lx", (UINT64)DescSize);
	Check(Count > 0 && Size % DescSize == 0, L"map-size", L"size 0x%lx for descriptor size 0x%lx", (UINT64)Size,
	      (UINT64)DescSize);
	Check(Unaligned == 0, L"map-aligned", L"%ld descriptors unaligned or empty", (UINT64)Unaligned);
	Check(Overlaps == 0, L"map-no-overlap", L"%ld overlapping pairs", (UINT64)Overlaps);
	Check(Conventional > 0, L"map-has-conventional", L"no EfiConventionalMemory");
	Check(HeldFound, L"map-shows-allocation", L"0x%lx (2 pages) not inside an EfiLoaderData descriptor", Held);
}

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	EFI_MEMORY_DESCRIPTOR *Map = NULL;
	EFI_PHYSICAL_ADDRESS Held, Extra = 0;
	UINTN Size = 0, Capacity, Key = 0, StaleKey, DescSize = 0;
	UINT32 DescVersion = 0;
	EFI_STATUS Status;

	SampleInit(L"memory", SystemTable);

	PagesAnyAndMax();
	Held = PagesAtAddress();
	PagesInvalid(Held);
	Pool();

	/* UEFI 2.10 §7.2 GetMemoryMap: a too-small buffer reports the size needed. */
	Status = uefi_call_wrapper(BS->GetMemoryMap, 5, &Size, NULL, &Key, &DescSize, &DescVersion);
	Print(L"map-size-needed 0x%lx\n", (UINT64)Size);
	CheckStatus(L"map-size-zero", Status, EFI_BUFFER_TOO_SMALL);
	Check(Size > 0, L"map-size-needed", L"size 0 reported");

	/* The pool allocation for the map can itself add descriptors: leave room for a few. */
	Capacity = Size + 8 * (DescSize > sizeof(EFI_MEMORY_DESCRIPTOR) ? DescSize : 64);
	Status = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, Capacity, (VOID **)&Map);
	if (!CheckStatus(L"map-buffer", Status, EFI_SUCCESS))
		return SampleSummary();
	Status = GetMap(Map, Capacity, &Size, &Key, &DescSize, &DescVersion);
	Print(L"map-key 0x%lx\n", (UINT64)Key);
	if (!CheckStatus(L"map-get", Status, EFI_SUCCESS))
		return SampleSummary();
	ShowMap(Map, Size, DescSize, DescVersion, Held);

	/* UEFI 2.10 §7.4.6 ExitBootServices: a MapKey older than the last map change is EFI_INVALID_PARAMETER. */
	StaleKey = Key;
	Status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 1, &Extra);
	CheckStatus(L"map-change", Status, EFI_SUCCESS);
	Status = GetMap(Map, Capacity, &Size, &Key, &DescSize, &DescVersion);
	Print(L"map-key-after-allocation 0x%lx\n", (UINT64)Key);
	Check(Status == EFI_SUCCESS && Key != StaleKey, L"map-key-changes", L"key 0x%lx before and after",
	      (UINT64)StaleKey);
	Status = uefi_call_wrapper(BS->ExitBootServices, 2, ImageHandle, StaleKey);
	CheckStatus(L"mapkey-stale", Status, EFI_INVALID_PARAMETER);

	SampleSummary();
	return SampleExitBootServices(ImageHandle, Map, Capacity);
}
