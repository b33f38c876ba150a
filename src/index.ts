// The package's public surface: `require('stubemu')`. Everything else in the package is internal.
export { boot, EngineCrashError } from './boot';
export type { BootOptions } from './boot';
export { runImage, EXIT, DEFAULTS } from './api';
export { BadInput } from './bad-input';
export type { RunOptions, RunResult } from './api';
export { reportJson, REPORT_VERSION } from './report';
export type * from './report-v1';
export { versionLines } from './version';
