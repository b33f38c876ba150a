/*
 * driver: a UEFI driver (EFI_BOOT_SERVICE_DRIVER) with two EFI_DRIVER_BINDING_PROTOCOLs (UEFI 2.10 §11.1), loaded
 * and connected by connect.c. Binding "accepting" (on the image handle) takes a whole-disk Block I/O controller:
 * Start opens Block I/O BY_DRIVER, installs DRIVER_MARKER on it and creates one child handle; Stop undoes both.
 * Binding "declining" (its own handle, higher Version) supports nothing. It prints nothing: the order of the
 * calls is the firmware's trace.
 */
#include "sample.h"
#include "driver.h"

static EFI_GUID MarkerGuid = DRIVER_MARKER_GUID;
static EFI_GUID ChildGuid = DRIVER_CHILD_GUID;
static EFI_GUID BindingGuid = EFI_DRIVER_BINDING_PROTOCOL_GUID;
static EFI_GUID BlockIoGuid = EFI_BLOCK_IO_PROTOCOL_GUID;

static DRIVER_MARKER Marker;
static UINT64 ChildInterface = 0xC41D;
static EFI_HANDLE Child;

static EFI_STATUS EFIAPI AcceptSupported(EFI_DRIVER_BINDING_PROTOCOL *This, EFI_HANDLE Controller, EFI_DEVICE_PATH *Remaining)
{
	EFI_BLOCK_IO *BlockIo;
	EFI_STATUS Status;
	BOOLEAN Whole;

	(VOID)Remaining;
	/* The driver-model test: BY_DRIVER fails with EFI_ALREADY_STARTED once this driver manages the controller. */
	Status = uefi_call_wrapper(BS->OpenProtocol, 6, Controller, &BlockIoGuid, (VOID **)&BlockIo, This->DriverBindingHandle,
				   Controller, EFI_OPEN_PROTOCOL_BY_DRIVER);
	if (EFI_ERROR(Status))
		return Status;
	Whole = !BlockIo->Media->LogicalPartition;
	uefi_call_wrapper(BS->CloseProtocol, 4, Controller, &BlockIoGuid, This->DriverBindingHandle, Controller);
	return Whole ? EFI_SUCCESS : EFI_UNSUPPORTED;
}

static EFI_STATUS EFIAPI AcceptStart(EFI_DRIVER_BINDING_PROTOCOL *This, EFI_HANDLE Controller, EFI_DEVICE_PATH *Remaining)
{
	EFI_BLOCK_IO *BlockIo;
	EFI_STATUS Status;

	(VOID)Remaining;
	Status = uefi_call_wrapper(BS->OpenProtocol, 6, Controller, &BlockIoGuid, (VOID **)&BlockIo, This->DriverBindingHandle,
				   Controller, EFI_OPEN_PROTOCOL_BY_DRIVER);
	if (EFI_ERROR(Status))
		return Status;
	Marker.Signature = DRIVER_MARKER_SIGNATURE;
	Marker.Controller = Controller;
	Status = uefi_call_wrapper(BS->InstallProtocolInterface, 4, &Controller, &MarkerGuid, EFI_NATIVE_INTERFACE, &Marker);
	if (!EFI_ERROR(Status)) {
		Child = NULL;
		Status = uefi_call_wrapper(BS->InstallProtocolInterface, 4, &Child, &ChildGuid, EFI_NATIVE_INTERFACE, &ChildInterface);
	}
	if (!EFI_ERROR(Status))
		Status = uefi_call_wrapper(BS->OpenProtocol, 6, Controller, &BlockIoGuid, (VOID **)&BlockIo, This->DriverBindingHandle,
					   Child, EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER);
	if (EFI_ERROR(Status))
		uefi_call_wrapper(BS->CloseProtocol, 4, Controller, &BlockIoGuid, This->DriverBindingHandle, Controller);
	return Status;
}

static EFI_STATUS EFIAPI AcceptStop(EFI_DRIVER_BINDING_PROTOCOL *This, EFI_HANDLE Controller, UINTN NumberOfChildren,
				    EFI_HANDLE *Children)
{
	EFI_STATUS Status;
	UINTN I;

	for (I = 0; I < NumberOfChildren; I++) {
		if (Children[I] != Child)
			return EFI_INVALID_PARAMETER;
		Status = uefi_call_wrapper(BS->CloseProtocol, 4, Controller, &BlockIoGuid, This->DriverBindingHandle, Children[I]);
		if (!EFI_ERROR(Status))
			Status = uefi_call_wrapper(BS->UninstallProtocolInterface, 3, Children[I], &ChildGuid, &ChildInterface);
		if (EFI_ERROR(Status))
			return Status;
		Child = NULL;
	}
	if (NumberOfChildren > 0)
		return EFI_SUCCESS;
	Status = uefi_call_wrapper(BS->UninstallProtocolInterface, 3, Controller, &MarkerGuid, &Marker);
	if (EFI_ERROR(Status))
		return Status;
	return uefi_call_wrapper(BS->CloseProtocol, 4, Controller, &BlockIoGuid, This->DriverBindingHandle, Controller);
}

static EFI_STATUS EFIAPI DeclineSupported(EFI_DRIVER_BINDING_PROTOCOL *This, EFI_HANDLE Controller, EFI_DEVICE_PATH *Remaining)
{
	(VOID)This;
	(VOID)Controller;
	(VOID)Remaining;
	return EFI_UNSUPPORTED;
}

/* Never called: the firmware starts and stops only a driver whose Supported accepted. */
static EFI_STATUS EFIAPI DeclineStart(EFI_DRIVER_BINDING_PROTOCOL *This, EFI_HANDLE Controller, EFI_DEVICE_PATH *Remaining)
{
	(VOID)This;
	(VOID)Controller;
	(VOID)Remaining;
	return EFI_DEVICE_ERROR;
}

static EFI_STATUS EFIAPI DeclineStop(EFI_DRIVER_BINDING_PROTOCOL *This, EFI_HANDLE Controller, UINTN NumberOfChildren,
				     EFI_HANDLE *Children)
{
	(VOID)This;
	(VOID)Controller;
	(VOID)NumberOfChildren;
	(VOID)Children;
	return EFI_DEVICE_ERROR;
}

static EFI_DRIVER_BINDING_PROTOCOL Accepting = { AcceptSupported, AcceptStart, AcceptStop, DRIVER_ACCEPTING_VERSION, NULL, NULL };
static EFI_DRIVER_BINDING_PROTOCOL Declining = { DeclineSupported, DeclineStart, DeclineStop, DRIVER_DECLINING_VERSION, NULL, NULL };

EFI_STATUS efi_main(EFI_HANDLE ImageHandle, EFI_SYSTEM_TABLE *SystemTable)
{
	EFI_HANDLE Other = NULL;
	EFI_STATUS Status;

	SampleInit(L"driver", SystemTable);
	/* The accepting binding on the image handle, as EfiLibInstallDriverBinding does; the other on a new handle. */
	Accepting.ImageHandle = ImageHandle;
	Accepting.DriverBindingHandle = ImageHandle;
	Status = uefi_call_wrapper(BS->InstallProtocolInterface, 4, &Accepting.DriverBindingHandle, &BindingGuid,
				   EFI_NATIVE_INTERFACE, &Accepting);
	if (EFI_ERROR(Status))
		return Status;
	Declining.ImageHandle = ImageHandle;
	Status = uefi_call_wrapper(BS->InstallProtocolInterface, 4, &Other, &BindingGuid, EFI_NATIVE_INTERFACE, &Declining);
	Declining.DriverBindingHandle = Other;
	return Status;
}
