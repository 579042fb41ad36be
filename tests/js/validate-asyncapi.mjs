// Validate an AsyncAPI document with the official parser: exit 1 and print every error if invalid.
// usage: node validate-asyncapi.mjs path/to/asyncapi.json
import { readFileSync } from "node:fs";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const text = readFileSync(process.argv[2], "utf8");
const { document, diagnostics } = await new Parser().parse(text);
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
for (const d of diagnostics) {
  console.log(`${["error", "warning", "info", "hint"][d.severity]} ${d.code} ${d.path.join(".")}: ${d.message}`);
}
if (!document || errors.length) process.exit(1);
console.log(`valid AsyncAPI ${document.version()}: ${document.allMessages().length} messages`);
