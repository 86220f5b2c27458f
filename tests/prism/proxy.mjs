// Runs `prism proxy` (Stoplight Prism, the version package-lock.json pins) with the arguments
// given, and stops it when standard input closes, so a test process that dies unannounced
// leaves no proxy behind. Prism's output goes to this process's stdout and stderr.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const cli = path.join(path.dirname(require.resolve('@stoplight/prism-cli/package.json')), 'dist', 'index.js');
const prism = spawn(process.execPath, [cli, 'proxy', ...process.argv.slice(2)], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
});
const stop = () => {
  prism.kill('SIGTERM');
  setTimeout(() => process.exit(0), 2000).unref();
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, stop);
prism.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
