// Runs SQL statements with DuckDB and prints each result as JSON, one line
// per statement: the way tests read ttpgate's Parquet outputs like analysts.
// Usage: node query.mjs "SQL1" ["SQL2" ...]
import { DuckDBInstance } from '@duckdb/node-api';

const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
for (const sql of process.argv.slice(2)) {
  const res = await conn.runAndReadAll(sql);
  console.log(JSON.stringify(res.getRowObjectsJson()));
}
