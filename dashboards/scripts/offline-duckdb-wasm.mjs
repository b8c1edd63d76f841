// Evidence runs its queries in DuckDB-Wasm, at build time (node) and in the browser. From
// @duckdb/duckdb-wasm 1.29 on, Parquet support is an extension fetched from extensions.duckdb.org on
// first use; where that host is unreachable (CI, air-gapped warehouses) `evidence sources` and every
// page hang on their first read_parquet. package.json therefore pins duckdb-wasm 1.28.0 (`overrides`),
// the last release with Parquet built in. Its DuckDB (0.9) does not know two settings that
// @evidence-dev/universal-sql sets on start and only needs on newer DuckDB, so this postinstall step
// makes those two statements tolerate "unrecognized configuration parameter".
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const usql = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '@evidence-dev', 'universal-sql');
const SETTINGS = ['SET ieee_floating_point_ops = false;', 'SET old_implicit_casting = true;'];

for (const file of ['node.js', 'browser.js']) {
	const path = join(usql, 'src', 'client-duckdb', file);
	let text = readFileSync(path, 'utf8');
	for (const statement of SETTINGS) {
		const original = `await connection.query('${statement}');`;
		const tolerant = `await Promise.resolve().then(() => connection.query('${statement}')).catch(() => null);`;
		if (text.includes(tolerant)) continue;
		if (!text.includes(original)) {
			console.error(`offline-duckdb-wasm: '${original}' not found in ${path}; update this script for the new Evidence version`);
			process.exit(1);
		}
		text = text.replace(original, tolerant);
	}
	writeFileSync(path, text);
}
const wasm = JSON.parse(readFileSync(join(usql, 'node_modules', '@duckdb', 'duckdb-wasm', 'package.json'), 'utf8'));
if (wasm.version !== '1.28.0') {
	console.error(`offline-duckdb-wasm: expected @duckdb/duckdb-wasm 1.28.0 under universal-sql, found ${wasm.version}`);
	process.exit(1);
}
