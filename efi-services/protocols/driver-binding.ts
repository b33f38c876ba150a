// EFI_DRIVER_BINDING_PROTOCOL (UEFI 2.10 §11.1): a guest driver's Supported/Start/Stop, which the firmware calls
// from ConnectController and DisconnectController (boot/driver-model.ts). The firmware never installs one itself.
import { field, fn, tableDecl } from '../../core/abi';
import { GUID } from '../../core/guid';

export const EFI_DRIVER_BINDING_PROTOCOL_GUID = GUID.DRIVER_BINDING;

export const EFI_DRIVER_BINDING_PROTOCOL = tableDecl({
  name: 'EFI_DRIVER_BINDING_PROTOCOL',
  traceName: 'DriverBinding',
  headerSize: 0,
  members: [
    fn('Supported', 'This:PTR', 'ControllerHandle:HANDLE', 'RemainingDevicePath:PTR'),
    fn('Start', 'This:PTR', 'ControllerHandle:HANDLE', 'RemainingDevicePath:PTR'),
    fn('Stop', 'This:PTR', 'ControllerHandle:HANDLE', 'NumberOfChildren:UINTN', 'ChildHandleBuffer:PTR'),
    // UINT32 Version, padded to 8 bytes by the next pointer member (offset 24, 32, 40).
    field('Version'),
    field('ImageHandle'),
    field('DriverBindingHandle'),
  ],
});
