// Re-export node:fs and add a globSync stub (Node 20 lacks fs.globSync; conformance only uses it in `tier-check`).
import fs from 'node:fs';
export * from 'node:fs';
export default fs;
export const globSync = fs.globSync ?? (() => { throw new Error('fs.globSync needs Node >= 22 (only used by tier-check)'); });
