/* protocols: the handle database — install, look up, open/close, notify and uninstall a private protocol (UEFI 2.10 §7.3). */
#include "sample.h"

static EFI_GUID AdderGuid = { 0x3f5b2e0c, 0x8a41, 0x4d6e, { 0x9b, 0x1a, 0x55, 0x0d, 0xe2, 0x7c, 0x41, 0x90 } };
static EFI_GUID WatchGuid = { 0x3f5b2e0c, 0x8a41, 0x4d6e, { 0x9b, 0x1a, 0x55, 0x0d, 0xe2, 0x7c, 0x41, 0x91 } };
static EFI_GUID MissingGuid = { 0x3f5b2e0c, 0x8a41, 0x4d6e, { 0x9b, 0x1a, 0x55, 0x0d, 0xe2, 0x7c, 0x41, 0x92 } };
static EFI_GUID RollbackGuid = { 0x3f5b2e0c, 0x8a41, 0x4d6e, { 0x9b, 0x1a, 0x55, 0x0d, 0xe2, 0x7c, 0x41, 0x93 } };
static EFI_GUID VendorNodeGuid = { 0x3f5b2e0c, 0x8a41, 0x4d6e, { 0x9b, 0x1a, 0x55, 0x0d, 0xe2, 0x7c, 0x41, 0x94 } };

/* A protocol whose member function lives in the guest: the firmware only stores and returns the pointer. */
typedef struct _SAMPLE_ADDER SAMPLE_ADDER;
typedef EFI_STATUS(EFIAPI *SAMPLE_ADD)(SAMPLE_ADDER *This, UINT64 A, UINT64 B, UINT64 *Sum);
struct _SAMPLE_ADDER {
	UINT64 Revision;
	SAMPLE_ADD Add;
	UINT64 Calls;
};

static EFI_STATUS EFIAPI AdderAdd(SAMPLE_ADDER *This, UINT64 A, UINT64 B, UINT64 *Sum)
{
	if (This == NULL || Sum == NULL)
		return EFI_INVALID_PARAMETER;
	This->Calls++;
	*Sum = A + B;
	return EFI_SUCCESS;
}

static SAMPLE_ADDER Adder = { 0x10000, AdderAdd, 0 };
static SAMPLE_ADDER Adder2 = { 0x20000, AdderAdd, 0 };

/* VenHw(<VendorNodeGuid>) followed by End Entire (UEFI 2.10 §10.3.2.4, §10.3.1). */
typedef struct {
	VENDOR_DEVICE_PATH Vendor;
	EFI_DEVICE_PATH End;
} SAMPLE_DEVICE_PATH;

static VOID MakeDevicePath(SAMPLE_DEVICE_PATH *Dp)
{
	Dp->Vendor.Header.Type = HARDWARE_DEVICE_PATH;
	Dp->Vendor.Header.SubType = HW_VENDOR_DP;
	Dp->Vendor.Header.Length[0] = sizeof(VENDOR_DEVICE_PATH);
	Dp->Vendor.Header.Length[1] = 0;
	Dp->Vendor.Guid = VendorNodeGuid;
	Dp->End.Type = END_DEVICE_PATH_TYPE;
	Dp->End.SubType = END_ENTIRE_DEVICE_PATH_SUBTYPE;
	Dp->End.Length[0] = sizeof(EFI_DEVICE_PATH);
	Dp->End.Length[1] = 0;
}

typedef struct {
	UINTN Count;
} NOTIFY_LOG;

static VOID EFIAPI CountNotify(EFI_EVENT Event, VOID *Context)
{
	(VOID)Event;
	((NOTIFY_LOG *)Context)->Count++;
}

/* Number of handles LocateHandleBuffer finds for Protocol (0 on EFI_NOT_FOUND); First gets the first. */
static UINTN HandlesWith(EFI_GUID *Protocol, EFI_HANDLE *First, EFI_STATUS *Status)
{
	EFI_HANDLE *Buffer = NULL;
	UINTN Count = 0;

	*Status = uefi_call_wrapper(BS->LocateHandleBuffer, 5, ByProtocol, Protocol, NULL, &Count, &Buffer);
	if (EFI_ERROR(*Status))
		return 0;
	if (First != NULL)
		*First = Count > 0 ? Buffer[0] : NULL;
	uefi_call_wrapper(BS->FreePool, 1, Buffer);
	return Count;
}

/* Installs the adder on a new handle and finds it again every way the spec offers. */
static EFI_HANDLE InstallAndFind(VOID)
{
	EFI_HANDLE Handle = NULL, Found = NULL, *All = NULL;
	SAMPLE_ADDER *P = NULL;
	EFI_GUID **Guids = NULL;
	UINT64 Sum = 0;
	UINTN Count = 0, Size = 0;
	EFI_STATUS Status;

	Status = uefi_call_wrapper(BS->InstallProtocolInterface, 4, &Handle, &AdderGuid, EFI_NATIVE_INTERFACE, &Adder);
	if (!CheckStatus(L"install", Status, EFI_SUCCESS))
		return NULL;
	Check(Handle != NULL, L"install-new-handle", L"no handle created");
	/* UEFI 2.10 §7.3.2: the same protocol twice on one handle is EFI_INVALID_PARAMETER. */
	CheckStatus(L"install-duplicate",
		    uefi_call_wrapper(BS->InstallProtocolInterface, 4, &Handle, &AdderGuid, EFI_NATIVE_INTERFACE, &Adder),
		    EFI_INVALID_PARAMETER);

	Status = uefi_call_wrapper(BS->HandleProtocol, 3, Handle, &AdderGuid, (VOID **)&P);
	CheckStatus(L"handle-protocol", Status, EFI_SUCCESS);
	if (Check(P == &Adder, L"handle-protocol-pointer", L"got 0x%lx, installed 0x%lx", (UINT64)P, (UINT64)&Adder)) {
		Status = uefi_call_wrapper(P->Add, 4, P, 40, 2, &Sum);
		Print(L"call-through-interface status 0x%lx sum %ld calls %ld\n", Status, Sum, Adder.Calls);
		Check(Status == EFI_SUCCESS && Sum == 42 && Adder.Calls == 1, L"call-through-interface", L"sum %ld", Sum);
	}
	CheckStatus(L"handle-protocol-missing",
		    uefi_call_wrapper(BS->HandleProtocol, 3, Handle, &MissingGuid, (VOID **)&P), EFI_UNSUPPORTED);

	P = NULL;
	Status = uefi_call_wrapper(BS->LocateProtocol, 3, &AdderGuid, NULL, (VOID **)&P);
	CheckStatus(L"locate-protocol", Status, EFI_SUCCESS);
	Check(P == &Adder, L"locate-protocol-pointer", L"got 0x%lx", (UINT64)P);

	Count = HandlesWith(&AdderGuid, &Found, &Status);
	Print(L"locate-by-protocol count %ld\n", (UINT64)Count);
	CheckStatus(L"locate-by-protocol", Status, EFI_SUCCESS);
	Check(Count == 1 && Found == Handle, L"locate-by-protocol-handle", L"count %ld", (UINT64)Count);
	HandlesWith(&MissingGuid, NULL, &Status);
	CheckStatus(L"locate-by-protocol-missing", Status, EFI_NOT_FOUND);

	/* UEFI 2.10 §7.3.13 LocateHandle: a too-small buffer reports the size of the handles in bytes. */
	Status = uefi_call_wrapper(BS->LocateHandle, 5, ByProtocol, &AdderGuid, NULL, &Size, NULL);
	Print(L"locate-handle-size 0x%lx\n", (UINT64)Size);
	CheckStatus(L"locate-handle-too-small", Status, EFI_BUFFER_TOO_SMALL);
	Check(Size == sizeof(EFI_HANDLE), L"locate-handle-size", L"size 0x%lx", (UINT64)Size);

	Status = uefi_call_wrapper(BS->LocateHandleBuffer, 5, AllHandles, NULL, NULL, &Count, &All);
	Print(L"all-handles count %ld\n", (UINT64)Count);
	if (CheckStatus(L"all-handles", Status, EFI_SUCCESS))
		uefi_call_wrapper(BS->FreePool, 1, All);

	Status = uefi_call_wrapper(BS->ProtocolsPerHandle, 3, Handle, &Guids, &Count);
	Print(L"protocols-per-handle count %ld\n", (UINT64)Count);
	if (CheckStatus(L"protocols-per-handle", Status, EFI_SUCCESS)) {
		Check(Count == 1 && CompareGuid(Guids[0], &AdderGuid) == 0, L"protocols-per-handle-guid",
		      L"count %ld", (UINT64)Count);
		uefi_call_wrapper(BS->FreePool, 1, Guids);
	}
	return Handle;
}

/* UEFI 2.10 §7.3.5 RegisterProtocolNotify and LocateHandle(ByRegisterNotify). */
static VOID Notify(VOID)
{
	NOTIFY_LOG Log = { 0 };
	EFI_EVENT Event = NULL;
	EFI_HANDLE Watched = NULL, Found = NULL;
	VOID *Registration = NULL;
	UINTN Size;
	EFI_STATUS Status;

	Status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, CountNotify, &Log, &Event);
	if (!CheckStatus(L"notify-event", Status, EFI_SUCCESS))
		return;
	Status = uefi_call_wrapper(BS->RegisterProtocolNotify, 3, &WatchGuid, Event, &Registration);
	CheckStatus(L"register-protocol-notify", Status, EFI_SUCCESS);
	Check(Log.Count == 0, L"register-does-not-signal", L"notify ran %ld times", (UINT64)Log.Count);

	Status = uefi_call_wrapper(BS->InstallProtocolInterface, 4, &Watched, &WatchGuid, EFI_NATIVE_INTERFACE, &Adder2);
	CheckStatus(L"install-watched", Status, EFI_SUCCESS);
	Print(L"register-notify count %ld\n", (UINT64)Log.Count);
	Check(Log.Count == 1, L"register-notify-fired", L"notify ran %ld times", (UINT64)Log.Count);

	Size = sizeof(Found);
	Status = uefi_call_wrapper(BS->LocateHandle, 5, ByRegisterNotify, NULL, Registration, &Size, &Found);
	CheckStatus(L"locate-by-register-notify", Status, EFI_SUCCESS);
	Check(Found == Watched, L"locate-by-register-notify-handle", L"got 0x%lx", (UINT64)Found);
	Size = sizeof(Found);
	Status = uefi_call_wrapper(BS->LocateHandle, 5, ByRegisterNotify, NULL, Registration, &Size, &Found);
	CheckStatus(L"locate-by-register-notify-drained", Status, EFI_NOT_FOUND);

	if (Watched != NULL)
		uefi_call_wrapper(BS->UninstallProtocolInterface, 3, Watched, &WatchGuid, &Adder2);
	uefi_call_wrapper(BS->CloseEvent, 1, Event);
}

/* UEFI 2.10 §7.3.9 OpenProtocol, §7.3.10 CloseProtocol, §7.3.11 OpenProtocolInformation. */
static VOID OpenClose(EFI_HANDLE ImageHandle, EFI_HANDLE Handle)
{
	EFI_OPEN_PROTOCOL_INFORMATION_ENTRY *Entries = NULL;
	UINTN Count = 0, I;
	BOOLEAN ByDriver = FALSE;
	VOID *P = NULL;
	EFI_STATUS Status;

	Status = uefi_call_wrapper(BS->OpenProtocol, 6, Handle, &AdderGuid, &P, ImageHandle, NULL,
				   EFI_OPEN_PROTOCOL_GET_PROTOCOL);
	CheckStatus(L"open-get-protocol", Status, EFI_SUCCESS);
	Check(P == &Adder, L"open-get-protocol-pointer", L"got 0x%lx", (UINT64)P);
	Status = uefi_call_wrapper(BS->OpenProtocol, 6, Handle, &AdderGuid, &P, ImageHandle, Handle,
				   EFI_OPEN_PROTOCOL_BY_DRIVER);
	CheckStatus(L"open-by-driver", Status, EFI_SUCCESS);
	Status = uefi_call_wrapper(BS->OpenProtocol, 6, Handle, &AdderGuid, &P, ImageHandle, Handle,
				   EFI_OPEN_PROTOCOL_BY_DRIVER);
	CheckStatus(L"open-by-driver-again", Status, EFI_ALREADY_STARTED);
	Status = uefi_call_wrapper(BS->OpenProtocol, 6, Handle, &MissingGuid, NULL, ImageHandle, NULL,
				   EFI_OPEN_PROTOCOL_TEST_PROTOCOL);
	CheckStatus(L"open-test-missing", Status, EFI_UNSUPPORTED);

	Status = uefi_call_wrapper(BS->OpenProtocolInformation, 4, Handle, &AdderGuid, &Entries, &Count);
	Print(L"open-info count %ld\n", (UINT64)Count);
	if (CheckStatus(L"open-info", Status, EFI_SUCCESS)) {
		for (I = 0; I < Count; I++) {
			Print(L"open-info %ld attributes 0x%x open-count %d\n", (UINT64)I, Entries[I].Attributes,
			      Entries[I].OpenCount);
			if (Entries[I].AgentHandle == ImageHandle && Entries[I].ControllerHandle == Handle &&
			    Entries[I].Attributes == EFI_OPEN_PROTOCOL_BY_DRIVER)
				ByDriver = TRUE;
		}
		Check(ByDriver, L"open-info-by-driver", L"no BY_DRIVER entry for this image");
		uefi_call_wrapper(BS->FreePool, 1, Entries);
	}

	/* UEFI 2.10 §7.3.3: a protocol a driver holds BY_DRIVER cannot be uninstalled (the image is no driver). */
	Status = uefi_call_wrapper(BS->UninstallProtocolInterface, 3, Handle, &AdderGuid, &Adder);
	CheckStatus(L"uninstall-while-open", Status, EFI_ACCESS_DENIED);

	CheckStatus(L"close-by-driver", uefi_call_wrapper(BS->CloseProtocol, 4, Handle, &AdderGuid, ImageHandle, Handle),
		    EFI_SUCCESS);
	CheckStatus(L"close-twice", uefi_call_wrapper(BS->CloseProtocol, 4, Handle, &AdderGuid, ImageHandle, Handle),
		    EFI_NOT_FOUND);
	CheckStatus(L"close-get-protocol", uefi_call_wrapper(BS->CloseProtocol, 4, Handle, &AdderGuid, ImageHandle, NULL),
		    EFI_SUCCESS);
}

/* UEFI 2.10 §7.3.16 InstallMultipleProtocolInterfaces: a device path already present is EFI_ALREADY_STARTED
 * and nothing from the failed call stays installed. */
static VOID DevicePaths(VOID)
{
	SAMPLE_DEVICE_PATH Dp1, Dp2;
	EFI_DEVICE_PATH *Cursor;
	EFI_HANDLE H1 = NULL, H2 = NULL, H3 = NULL, Found = NULL;
	EFI_STATUS Status;

	MakeDevicePath(&Dp1);
	MakeDevicePath(&Dp2);
	Status = uefi_call_wrapper(BS->InstallMultipleProtocolInterfaces, 4, &H1, &DevicePathProtocol, &Dp1, NULL);
	if (!CheckStatus(L"install-device-path", Status, EFI_SUCCESS))
		return;
	Status = uefi_call_wrapper(BS->InstallMultipleProtocolInterfaces, 4, &H2, &DevicePathProtocol, &Dp2, NULL);
	CheckStatus(L"install-duplicate-device-path", Status, EFI_ALREADY_STARTED);
	Status = uefi_call_wrapper(BS->InstallMultipleProtocolInterfaces, 6, &H3, &RollbackGuid, &Adder2,
				   &DevicePathProtocol, &Dp2, NULL);
	CheckStatus(L"install-multiple-rollback", Status, EFI_ALREADY_STARTED);
	HandlesWith(&RollbackGuid, NULL, &Status);
	CheckStatus(L"install-multiple-rolled-back", Status, EFI_NOT_FOUND);

	/* UEFI 2.10 §7.3.14 LocateDevicePath: the handle whose path matches, the cursor moved to the End node. */
	Cursor = (EFI_DEVICE_PATH *)&Dp2;
	Status = uefi_call_wrapper(BS->LocateDevicePath, 3, &DevicePathProtocol, &Cursor, &Found);
	CheckStatus(L"locate-device-path", Status, EFI_SUCCESS);
	Check(Found == H1 && Cursor == &Dp2.End, L"locate-device-path-match", L"handle 0x%lx cursor +0x%lx",
	      (UINT64)Found, (UINT64)((UINT8 *)Cursor - (UINT8 *)&Dp2));

	Status = uefi_call_wrapper(BS->UninstallMultipleProtocolInterfaces, 4, H1, &DevicePathProtocol, &Dp1, NULL);
	CheckStatus(L"uninstall-device-path", Status, EFI_SUCCESS);
}

static VOID Uninstall(EFI_HANDLE Handle)
{
	SAMPLE_ADDER *P = NULL;
	EFI_STATUS Status;

	/* UEFI 2.10 §7.3.4 ReinstallProtocolInterface replaces the interface pointer in place. */
	Status = uefi_call_wrapper(BS->ReinstallProtocolInterface, 4, Handle, &AdderGuid, &Adder, &Adder2);
	CheckStatus(L"reinstall", Status, EFI_SUCCESS);
	uefi_call_wrapper(BS->HandleProtocol, 3, Handle, &AdderGuid, (VOID **)&P);
	Check(P == &Adder2, L"reinstall-pointer", L"got 0x%lx", (UINT64)P);

	CheckStatus(L"uninstall-wrong-interface",
		    uefi_call_wrapper(BS->UninstallProtocolInterface, 3, Handle, &AdderGuid, &Adder), EFI_NOT_FOUND);
	CheckStatus(L"uninstall", uefi_call_wrapper(BS->UninstallProtocolInterface, 3, Handle, &AdderGuid, &Adder2),
		    EFI_SUCCESS);
	HandlesWith(&AdderGuid, NULL, &Status);
	CheckStatus(L"gone-after-uninstall", Status, EFI_NOT_FOUND);
}

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	EFI_HANDLE Handle;

	SampleInit(L"protocols", SystemTable);

	Handle = InstallAndFind();
	Notify();
	if (Handle != NULL) {
		OpenClose(ImageHandle, Handle);
		Uninstall(Handle);
	}
	DevicePaths();

	return SampleSummary();
}
