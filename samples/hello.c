/* hello: the smallest run — console output, firmware vendor and the table headers of ST, BS and RT. */
#include "sample.h"

/* CRC-32 as UEFI 2.10 §4.2 uses it (IEEE 802.3, reflected, polynomial 0xEDB88320), computed in the guest
 * so the firmware's header CRCs are checked against an independent value. SkipAt..SkipAt+3 count as zero:
 * the header's own CRC32 field. */
static UINT32 Crc32Skipping(CONST UINT8 *Data, UINTN Size, UINTN SkipAt)
{
	UINT32 Crc = 0xFFFFFFFF;
	UINTN I;
	int Bit;

	for (I = 0; I < Size; I++) {
		UINT8 Byte = (I >= SkipAt && I < SkipAt + 4) ? 0 : Data[I];
		Crc ^= Byte;
		for (Bit = 0; Bit < 8; Bit++)
			Crc = (Crc >> 1) ^ (0xEDB88320 & (0U - (Crc & 1)));
	}
	return ~Crc;
}

/* UEFI 2.10 §4.2: Signature, then HeaderSize bytes covered by CRC32 with the CRC32 field zeroed. */
static VOID CheckHeader(CONST CHAR16 *Table, EFI_TABLE_HEADER *Hdr, UINT64 Signature)
{
	CHAR16 Name[32];
	UINT32 Crc = Crc32Skipping((CONST UINT8 *)Hdr, Hdr->HeaderSize, __builtin_offsetof(EFI_TABLE_HEADER, CRC32));

	Print(L"%s revision 0x%x header-size 0x%x crc32 0x%x\n", Table, Hdr->Revision, Hdr->HeaderSize, Hdr->CRC32);
	UnicodeSPrint(Name, sizeof(Name), L"%s-signature", Table);
	Check(Hdr->Signature == Signature, Name, L"signature 0x%lx", Hdr->Signature);
	UnicodeSPrint(Name, sizeof(Name), L"%s-crc32", Table);
	Check(Hdr->CRC32 == Crc, Name, L"header says 0x%x, computed 0x%x", Hdr->CRC32, Crc);
}

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	static CONST CHAR8 CheckInput[] = "123456789";
	UINT32 Crc = 0;
	EFI_STATUS Status;
	UINTN I;

	(VOID)ImageHandle;
	SampleInit(L"hello", SystemTable);

	/* The exact first line the host compares: one OutputString call, no formatting. */
	uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, L"Hello from stubemu sample\r\n");

	Print(L"FirmwareVendor %s\n", ST->FirmwareVendor);
	Print(L"FirmwareRevision 0x%x\n", ST->FirmwareRevision);
	CheckHeader(L"ST", &ST->Hdr, EFI_SYSTEM_TABLE_SIGNATURE);
	CheckHeader(L"BS", &BS->Hdr, EFI_BOOT_SERVICES_SIGNATURE);
	CheckHeader(L"RT", &RT->Hdr, EFI_RUNTIME_SERVICES_SIGNATURE);

	/* UEFI 2.10 §7.5.1 CalculateCrc32; 0xCBF43926 is the CRC-32 check value of "123456789". */
	Status = uefi_call_wrapper(BS->CalculateCrc32, 3, (VOID *)CheckInput, 9, &Crc);
	Print(L"calculate-crc32 value 0x%x\n", Crc);
	if (CheckStatus(L"calculate-crc32", Status, EFI_SUCCESS))
		Check(Crc == 0xCBF43926, L"calculate-crc32-value", L"got 0x%x", Crc);

	Print(L"config-tables %ld\n", (UINT64)ST->NumberOfTableEntries);
	for (I = 0; I < ST->NumberOfTableEntries; I++) {
		EFI_GUID *G = &ST->ConfigurationTable[I].VendorGuid;
		Print(L"config-table %ld %08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x\n", (UINT64)I,
		      G->Data1, G->Data2, G->Data3, G->Data4[0], G->Data4[1], G->Data4[2], G->Data4[3],
		      G->Data4[4], G->Data4[5], G->Data4[6], G->Data4[7]);
	}

	SampleSummary();
	return EFI_SUCCESS;
}
