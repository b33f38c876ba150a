/* What child.efi and images.efi agree on: the status and exit data child passes to BS->Exit, the options it is given. */
#ifndef STUBEMU_CHILD_H
#define STUBEMU_CHILD_H

/* A failure status, so UEFI 2.10 §7.4.5 Exit hands ExitData back to the caller of StartImage. */
#define CHILD_EXIT_STATUS EFI_ABORTED
#define CHILD_EXIT_DATA L"child exit data"
#define CHILD_LOAD_OPTIONS L"child-options"

#endif
