/** Module boundaries: see STYLE.md. A deep import into another module fails `npm test`. */
module.exports = {
  forbidden: [
    {
      name: 'module-internals',
      comment: 'Outside a module, import only its index.ts.',
      severity: 'error',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/([^/]+)/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'outside-into-module-internals',
      comment: 'Code outside src/modules imports a module only through its index.ts.',
      severity: 'error',
      from: { pathNot: ['^src/modules/', '^migrations/'] },
      to: { path: '^src/modules/[^/]+/', pathNot: '^src/modules/[^/]+/index\\.ts$' },
    },
    {
      name: 'platform-knows-no-module',
      comment: 'src/platform is shared infrastructure: it imports no module and no bootstrap code.',
      severity: 'error',
      from: { path: '^src/platform/' },
      to: { path: '^src/(modules|bootstrap)/' },
    },
    {
      name: 'modules-know-no-bootstrap',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: '^src/bootstrap/' },
    },
    {
      name: 'migrations-own-their-module',
      comment: 'migrations/<m> may only be imported by src/modules/<m>.',
      severity: 'error',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^migrations/([^/]+)/', pathNot: '^migrations/$1/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
