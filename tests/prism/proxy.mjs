// Runs `prism proxy` (Stoplight Prism, the version package-lock.json pins) in this process
// with the arguments given, and exits when standard input closes, so a test process that dies
// unannounced leaves no proxy behind.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const cli = path.join(path.dirname(require.resolve('@stoplight/prism-cli/package.json')), 'dist', 'index.js');

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();

// The CLI reads its arguments from process.argv when it is loaded, and serves in this process
// (no fork unless NODE_ENV is production, which the caller does not set).
process.argv = [process.argv[0], cli, 'proxy', ...process.argv.slice(2)];
require(cli);
