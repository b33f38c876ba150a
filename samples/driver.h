/* Shared by driver.c and connect.c: the GUIDs of what the sample driver installs. */
#ifndef STUBEMU_SAMPLE_DRIVER_H
#define STUBEMU_SAMPLE_DRIVER_H

/* Installed on a controller the driver started on; its interface begins with DRIVER_MARKER_SIGNATURE. */
#define DRIVER_MARKER_GUID { 0x7d2c61a4, 0x30b5, 0x4e8f, { 0xa1, 0x6e, 0x0b, 0x52, 0xc9, 0x3d, 0x84, 0x10 } }
/* Installed on the one child handle Start creates (it opens the controller's Block I/O BY_CHILD_CONTROLLER). */
#define DRIVER_CHILD_GUID { 0x7d2c61a4, 0x30b5, 0x4e8f, { 0xa1, 0x6e, 0x0b, 0x52, 0xc9, 0x3d, 0x84, 0x11 } }
#define DRIVER_MARKER_SIGNATURE 0x4b52414d52565244ULL /* "DRVRMARK" */

/* Versions of the two bindings: the accepting one is lower, so edk2's order asks the other first. */
#define DRIVER_ACCEPTING_VERSION 0x10
#define DRIVER_DECLINING_VERSION 0x20

typedef struct {
	UINT64 Signature;
	EFI_HANDLE Controller;
} DRIVER_MARKER;

#endif
