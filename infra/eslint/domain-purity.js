// An ESLint rule for domain/: imports stay inside domain/, and no I/O, clock or randomness.
import path from 'node:path';

const FORBIDDEN_GLOBALS = new Set([
  'Date', 'process', 'fetch', 'crypto', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask',
  'performance', 'require', 'globalThis', 'XMLHttpRequest', 'WebSocket', 'Buffer', 'console',
]);

const domainRoot = (filename) => {
  const parts = path.resolve(filename).split(path.sep);
  const at = parts.lastIndexOf('domain');
  return at < 0 ? undefined : parts.slice(0, at + 1).join(path.sep);
};

export const domainPurity = {
  meta: {
    type: 'problem',
    docs: { description: 'domain/ is pure: no imports from outside domain/, no I/O, clock or randomness' },
    schema: [],
    messages: {
      importOutside: "domain/ may import only from domain/: '{{source}}'",
      impure: "domain/ must not use '{{name}}' (I/O, clock or randomness); pass it in on the command",
    },
  },
  create(context) {
    const filename = context.filename ?? context.getFilename();
    const root = domainRoot(filename);
    if (!root) return {};
    const checkSource = (node) => {
      const source = node?.value;
      if (typeof source !== 'string') return;
      const inside =
        (source.startsWith('.') && path.resolve(path.dirname(filename), source).startsWith(root + path.sep)) ||
        false;
      if (!inside) context.report({ node, messageId: 'importOutside', data: { source } });
    };
    return {
      ImportDeclaration: (node) => checkSource(node.source),
      ExportNamedDeclaration: (node) => node.source && checkSource(node.source),
      ExportAllDeclaration: (node) => checkSource(node.source),
      ImportExpression: (node) => context.report({ node, messageId: 'importOutside', data: { source: 'import()' } }),
      Identifier(node) {
        if (!FORBIDDEN_GLOBALS.has(node.name)) return;
        const parent = node.parent;
        // property names and object keys are not references: `{ process: 1 }`, `x.process`
        if (parent?.type === 'MemberExpression' && parent.property === node && !parent.computed) return;
        if (parent?.type === 'Property' && parent.key === node && !parent.computed) return;
        if (parent?.type?.startsWith('TS') && parent.type !== 'TSTypeQuery') return;
        const scope = context.sourceCode.getScope(node);
        let s = scope;
        while (s) {
          if (s.set.has(node.name) && s.type !== 'global') return; // a local binding shadows the global
          s = s.upper;
        }
        context.report({ node, messageId: 'impure', data: { name: node.name } });
      },
      MemberExpression(node) {
        if (node.object.type === 'Identifier' && node.object.name === 'Math' && node.property.name === 'random')
          context.report({ node, messageId: 'impure', data: { name: 'Math.random' } });
      },
    };
  },
};
