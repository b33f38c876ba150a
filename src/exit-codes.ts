// The documented exit codes of `stubemu run` (README), apart from the API so the command's entry can use them
// without loading the firmware.

export const EXIT = { ok: 0, imageError: 1, badInput: 2, fault: 3, budget: 4 } as const;
