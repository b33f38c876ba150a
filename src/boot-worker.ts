// The worker process of boot(): receives one BootRequest, runs it with runImage, sends the report's JSON back.
import { runImage } from './api';
import { BadInput, readInputFile } from './bad-input';
import { BootMessage, BootRequest } from './boot';
import { reportJson } from './report';

function send(m: BootMessage): Promise<void> {
  return new Promise((resolve, reject) => process.send!(m, undefined, {}, (e) => (e ? reject(e) : resolve())));
}

async function serve(r: BootRequest): Promise<void> {
  try {
    const image = r.path !== undefined ? readInputFile(r.path) : Buffer.from(r.image!.buffer, r.image!.byteOffset, r.image!.byteLength);
    const o = r.options;
    const result = runImage({
      ...o,
      image,
      imageName: r.imageName,
      initrds: o.initrds?.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
      onConsole: r.console ? (text, stream) => void send({ type: 'console', text, stream }) : undefined,
    });
    await send({ type: 'report', json: reportJson(result.report) });
  } catch (e) {
    const err = e as Error;
    await send({ type: 'error', badInput: e instanceof BadInput, message: err.message, stack: err.stack });
  }
  process.disconnect();
}

if (require.main === module) {
  if (!process.send) {
    process.stderr.write('boot-worker: start this through boot() (it needs an IPC channel)\n');
    process.exitCode = 2;
  } else process.once('message', (m: BootRequest) => void serve(m));
}
