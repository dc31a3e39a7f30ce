/**
 * Reads the wire contract out of the C# sources in `src/Contracts` and out of `src/types.ts`, so a test can compare
 * them. Regex over the C# is enough: the records are plain declarations (primary constructors and auto-properties).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

export interface CsMember {
  name: string;
  /** The C# type as written, for example `IReadOnlyList<ModelVote>` or `string?`. */
  type: string;
  /** `[JsonIgnore(Condition = WhenWritingDefault/Null)]`: absent from the JSON when default. */
  omittedWhenDefault?: boolean;
  /** `[DataMember(Name = "…")]`: the key the MessagePack hub protocol writes it under. */
  messagePackName?: string;
}

export interface CsContract {
  records: Map<string, CsMember[]>;
  enums: Map<string, string[]>;
  timeframeNames: string[];
  hubNames: Map<string, string>;
}

export function readCsContract(dir: string): CsContract {
  const records = new Map<string, CsMember[]>();
  const enums = new Map<string, string[]>();
  let timeframeNames: string[] = [];
  const hubNames = new Map<string, string>();

  for (const file of walk(dir).filter((f) => f.endsWith(".cs"))) {
    const source = stripComments(readFileSync(file, "utf8"));

    for (const m of source.matchAll(/public\s+(?:sealed\s+|readonly\s+)*record\s+(?:struct\s+|class\s+)?(\w+)\s*(\(|\{|;|:)/g)) {
      const name = m[1]!;
      const members: CsMember[] = [];
      let bodyStart = (m.index ?? 0) + m[0].length - 1;
      if (m[2] === "(") {
        const close = matching(source, bodyStart, "(", ")");
        members.push(...parseParameters(source.slice(bodyStart + 1, close)));
        bodyStart = close + 1;
      }
      const open = source.indexOf("{", bodyStart);
      const semi = source.indexOf(";", bodyStart);
      if (open >= 0 && (semi < 0 || open < semi || m[2] === "{")) {
        const body = source.slice(open + 1, matching(source, open, "{", "}"));
        members.push(...parseProperties(body));
      }
      records.set(name, members);
    }

    for (const m of source.matchAll(/public\s+enum\s+(\w+)[^{]*\{([^}]*)\}/g)) {
      const values = [...m[2]!.matchAll(/JsonStringEnumMemberName\("([^"]+)"\)/g)].map((v) => v[1]!);
      if (values.length > 0) enums.set(m[1]!, values);
    }

    const names = /s_names\s*=\s*\[([^\]]*)\]/.exec(source);
    if (names && file.endsWith("Timeframes.cs")) timeframeNames = [...names[1]!.matchAll(/"([^"]+)"/g)].map((v) => v[1]!);

    const hub = /public\s+static\s+class\s+HubNames\s*\{([^}]*)\}/.exec(source);
    if (hub) for (const c of hub[1]!.matchAll(/const\s+string\s+(\w+)\s*=\s*"([^"]*)"/g)) hubNames.set(c[1]!, c[2]!);
  }
  return { records, enums, timeframeNames, hubNames };
}

export interface TsContract {
  interfaces: Map<string, Array<{ name: string; type: string; optional: boolean }>>;
  unions: Map<string, string[]>;
  constObjects: Map<string, Map<string, string>>;
  arrays: Map<string, string[]>;
}

export function readTsContract(file: string): TsContract {
  const sourceFile = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const contract: TsContract = { interfaces: new Map(), unions: new Map(), constObjects: new Map(), arrays: new Map() };
  for (const statement of sourceFile.statements) {
    if (ts.isInterfaceDeclaration(statement)) {
      contract.interfaces.set(
        statement.name.text,
        statement.members.filter(ts.isPropertySignature).map((p) => ({
          name: p.name.getText(sourceFile),
          type: p.type?.getText(sourceFile) ?? "unknown",
          optional: p.questionToken !== undefined,
        })),
      );
    } else if (ts.isTypeAliasDeclaration(statement) && ts.isUnionTypeNode(statement.type)) {
      contract.unions.set(
        statement.name.text,
        statement.type.types.flatMap((t) => (ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? [t.literal.text] : [])),
      );
    } else if (ts.isVariableStatement(statement)) {
      for (const decl of statement.declarationList.declarations) {
        let init = decl.initializer;
        while (init && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init))) init = init.expression;
        if (!init || !ts.isIdentifier(decl.name)) continue;
        if (ts.isObjectLiteralExpression(init)) {
          const values = new Map<string, string>();
          for (const p of init.properties) {
            if (ts.isPropertyAssignment(p) && ts.isStringLiteral(p.initializer)) values.set(p.name.getText(sourceFile), p.initializer.text);
          }
          contract.constObjects.set(decl.name.text, values);
        } else if (ts.isArrayLiteralExpression(init)) {
          contract.arrays.set(decl.name.text, init.elements.flatMap((e) => (ts.isStringLiteral(e) ? [e.text] : [])));
        }
      }
    }
  }
  return contract;
}

/** The TypeScript type a C# wire type serializes to (System.Text.Json, web defaults, enums as strings). */
export function expectedTsType(csType: string): { type: string; nullable: boolean } {
  const nullable = csType.endsWith("?");
  const bare = nullable ? csType.slice(0, -1) : csType;
  const list = /^(?:IReadOnlyList|IList|List|IEnumerable|ICollection|IReadOnlyCollection)<(.+)>$/.exec(bare) ?? /^(.+)\[\]$/.exec(bare);
  if (list) return { type: `${expectedTsType(list[1]!).type}[]`, nullable };
  switch (bare) {
    case "string":
      return { type: "string", nullable };
    case "bool":
      return { type: "boolean", nullable };
    case "byte": case "short": case "int": case "long": case "float": case "double": case "decimal":
      return { type: "number", nullable };
    default:
      return { type: bare, nullable };
  }
}

export function camelCase(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function parseParameters(list: string): CsMember[] {
  return splitTopLevel(list)
    .map((p) => ({ messagePackName: /DataMember\(Name\s*=\s*"(\w+)"\)/.exec(p)?.[1], text: p.replace(/\[[^\]]*\]/g, "").split("=")[0]!.trim() }))
    .filter((p) => p.text.length > 0)
    .map(({ messagePackName, text }) => {
      const at = text.lastIndexOf(" ");
      return { type: text.slice(0, at).replace(/^(?:in|ref|out)\s+/, "").trim(), name: text.slice(at + 1), messagePackName };
    });
}

function parseProperties(body: string): CsMember[] {
  const members: CsMember[] = [];
  // Depth-0 members only: nested method bodies are skipped by matching on the class body text as written.
  const pattern =
    /(?:\[DataMember\(Name\s*=\s*"(\w+)"\)\]\s*)?(\[JsonIgnore\(Condition\s*=\s*JsonIgnoreCondition\.WhenWriting(?:Default|Null)\)\]\s*)?public\s+(?!static|const|override|sealed|class|record|enum)(?:required\s+)?([\w<>,\s?\[\]]+?)\s+(\w+)\s*(\{\s*get\b|=>)/g;
  for (const m of body.matchAll(pattern)) {
    members.push({ type: m[3]!.replace(/\s+/g, " ").trim(), name: m[4]!, omittedWhenDefault: m[2] !== undefined, messagePackName: m[1] });
  }
  return members;
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "<" || c === "(" || c === "[") depth++;
    else if (c === ">" || c === ")" || c === "]") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function matching(text: string, openIndex: number, open: string, close: string): number {
  let depth = 0;
  for (let i = openIndex; i < text.length; i++) {
    if (text[i] === open) depth++;
    else if (text[i] === close && --depth === 0) return i;
  }
  throw new Error(`unbalanced ${open}${close} at ${openIndex}`);
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === "bin" || entry === "obj") return [];
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
