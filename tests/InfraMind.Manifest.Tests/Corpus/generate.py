#!/usr/bin/env python3
"""Writes the manifest corpus: one file per rule. Each case states, at its end, the findings it must produce:
`# expect: CODE PATH LINE:COL` (or `-` for no location). Locations are computed here from the text (the first
occurrence of an anchor string), independently of the validator under test. Run it after editing the cases."""
import os

BASE = """name: summarizer-v1
version: 0.4.2
entrypoint: serve.py
runtime: python3.10
protocol: rest
port: 9000
resources:
  cpu: 2
  memory: 4Gi
  gpu: false
input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]
output_schema:
  type: object
  properties:
    summary:
      type: string
hooks:
  init: hooks/init.sh
  healthcheck: hooks/health.sh
"""

def sub(old, new, text=BASE):
    assert old in text, old
    return text.replace(old, new, 1)

def drop(line, text=BASE):
    return "\n".join(l for l in text.split("\n") if l != line)

# (file, text, [(code, path, anchor)]) ; anchor None = no location; ("@", line, col) = explicit
VALID = {
    "spec-example": BASE,
    "flow-style": """name: summarizer-v1
version: 0.4.2
entrypoint: serve.py
runtime: python3.10
protocol: rest
port: 9000
resources: {cpu: 2, memory: 4Gi, gpu: false}
input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
output_schema: {type: object, properties: {summary: {type: string}}}
hooks: {init: hooks/init.sh, healthcheck: hooks/health.sh}
""",
    "no-resources-no-hooks": drop("  healthcheck: hooks/health.sh", drop("  init: hooks/init.sh", drop("hooks:",
        drop("  cpu: 2", drop("  memory: 4Gi", drop("  gpu: false", drop("resources:"))))))),
    "millicores": sub("cpu: 2", "cpu: 500m"),
    "fractional-cpu": sub("cpu: 2", "cpu: 0.25"),
    "memory-decimal-suffix": sub("memory: 4Gi", "memory: 1G"),
    "memory-bytes": sub("memory: 4Gi", "memory: 6291456"),
    "memory-engine-minimum": sub("memory: 4Gi", "memory: 6Mi"),
    "gpu-count": sub("gpu: false", "gpu: 2"),
    "gpu-true": sub("gpu: false", "gpu: true"),
    "prerelease-version": sub("version: 0.4.2", "version: 1.0.0-rc.1+build.5"),
    "grpc": sub("protocol: rest", "protocol: grpc"),
    "custom-runtime": sub("runtime: python3.10", "runtime: custom"),
    "node-runtime": sub("runtime: python3.10", "runtime: node20"),
    "warmup-hook": BASE + "  warmup: hooks/warmup.sh\n",
    "schema-file-ref": sub("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]""", "input_schema:\n  $ref: schemas/in.json"),
    "schema-yaml-file-ref": sub("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]""", "input_schema: {$ref: schemas/in.yaml}"),
    "local-definitions": sub("""    text:
      type: string
  required: [text]""", """    text:
      $ref: "#/definitions/text"
  required: [text]
  definitions:
    text: {type: string, maxLength: 100}"""),
    "timeout": BASE + "timeout: 5s\n",
    "anchors": sub("output_schema:\n  type: object", "output_schema:\n  type: &obj object").replace("input_schema:\n  type: object", "input_schema:\n  type: object", 1),
    "rich-schema": sub("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]""", """input_schema:
  type: object
  properties:
    species: {type: string, enum: [setosa, versicolor, virginica]}
    petal: {type: object, properties: {length: {type: number, minimum: 0, maximum: 10}}}
    tags: {type: array, items: {type: string}, minItems: 1, maxItems: 4, uniqueItems: true}
    id: {type: string, format: uuid}
  required: [species]
  additionalProperties: false"""),
    "quoted-strings": sub("name: summarizer-v1", 'name: "summarizer-v1"').replace("version: 0.4.2", "version: '0.4.2'"),
    "comments": "# a model\n" + BASE.replace("port: 9000", "port: 9000  # served here"),
    "max-length-name": sub("name: summarizer-v1", "name: " + "a" * 63),
    "port-1": sub("port: 9000", "port: 1").replace("EXPOSE", "EXPOSE"),
}

INVALID = [
    ("missing-name", drop("name: summarizer-v1"), [("IM1010", "name", ("@", 1, 1))]),
    ("missing-version", drop("version: 0.4.2"), [("IM1010", "version", ("@", 1, 1))]),
    ("missing-entrypoint", drop("entrypoint: serve.py"), [("IM1010", "entrypoint", ("@", 1, 1))]),
    ("missing-runtime", drop("runtime: python3.10"), [("IM1010", "runtime", ("@", 1, 1))]),
    ("missing-protocol", drop("protocol: rest"), [("IM1010", "protocol", ("@", 1, 1))]),
    ("missing-port", drop("port: 9000"), [("IM1010", "port", ("@", 1, 1))]),
    ("missing-input-schema", BASE.replace("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]
""", ""), [("IM1010", "input_schema", ("@", 1, 1))]),
    ("missing-output-schema", BASE.replace("""output_schema:
  type: object
  properties:
    summary:
      type: string
""", ""), [("IM1010", "output_schema", ("@", 1, 1))]),
    ("unknown-key-suggest", BASE + "entrypiont: x\n", [("IM1011", "entrypiont", "entrypiont")]),
    ("unknown-key-far", BASE + "colour: blue\n", [("IM1011", "colour", "colour")]),
    ("unknown-resource", sub("  gpu: false", "  gpu: false\n  memroy: 1Gi"), [("IM1011", "resources.memroy", "memroy")]),
    ("name-uppercase", sub("name: summarizer-v1", "name: Summarizer-V1"), [("IM1020", "name", "Summarizer-V1")]),
    ("name-underscore", sub("name: summarizer-v1", "name: summarizer_v1"), [("IM1020", "name", "summarizer_v1")]),
    ("name-leading-dash", sub("name: summarizer-v1", "name: -summarizer"), [("IM1020", "name", "-summarizer")]),
    ("name-too-long", sub("name: summarizer-v1", "name: " + "a" * 64), [("IM1020", "name", "a" * 64)]),
    ("name-list", sub("name: summarizer-v1", "name: [a, b]"), [("IM1012", "name", "[a, b]")]),
    ("name-empty", sub("name: summarizer-v1", "name:"), [("IM1012", "name", None)]),
    ("version-two-parts", sub("version: 0.4.2", "version: 1.0"), [("IM1021", "version", "1.0")]),
    ("version-v-prefix", sub("version: 0.4.2", "version: v1.2.3"), [("IM1021", "version", "v1.2.3")]),
    ("version-leading-zero", sub("version: 0.4.2", "version: 01.2.3"), [("IM1021", "version", "01.2.3")]),
    ("version-garbage", sub("version: 0.4.2", "version: latest"), [("IM1021", "version", "latest")]),
    ("entrypoint-absolute", sub("entrypoint: serve.py", "entrypoint: /app/serve.py"), [("IM1022", "entrypoint", "/app/serve.py")]),
    ("entrypoint-dotdot", sub("entrypoint: serve.py", "entrypoint: ../serve.py"), [("IM1022", "entrypoint", "../serve.py")]),
    ("entrypoint-missing-file", sub("entrypoint: serve.py", "entrypoint: server.py"), [("IM1023", "entrypoint", "server.py")]),
    ("entrypoint-directory", sub("entrypoint: serve.py", "entrypoint: hooks"), [("IM1022", "entrypoint", "hooks\n")]),
    ("entrypoint-symlink-escape", sub("entrypoint: serve.py", "entrypoint: escape.py"), [("IM1024", "entrypoint", "escape.py")]),
    ("hook-missing-file", sub("  init: hooks/init.sh", "  init: hooks/setup.sh"), [("IM1023", "hooks.init", "hooks/setup.sh")]),
    ("hook-unknown", sub("  init: hooks/init.sh", "  preinit: hooks/init.sh"), [("IM1025", "hooks.preinit", "preinit")]),
    ("hook-typo", sub("  healthcheck: hooks/health.sh", "  helthcheck: hooks/health.sh"), [("IM1025", "hooks.helthcheck", "helthcheck")]),
    ("hook-absolute", sub("  init: hooks/init.sh", "  init: /bin/true"), [("IM1022", "hooks.init", "/bin/true")]),
    ("hooks-list", sub("""hooks:
  init: hooks/init.sh
  healthcheck: hooks/health.sh""", "hooks: [hooks/init.sh]"), [("IM1012", "hooks", "[hooks/init.sh]")]),
    ("runtime-no-version", sub("runtime: python3.10", "runtime: python"), [("IM1026", "runtime", "python\n")]),
    ("runtime-spaces", sub("runtime: python3.10", "runtime: python 3.10"), [("IM1026", "runtime", "python 3.10")]),
    ("protocol-uppercase", sub("protocol: rest", "protocol: REST"), [("IM1027", "protocol", "REST")]),
    ("protocol-http", sub("protocol: rest", "protocol: http"), [("IM1027", "protocol", "http")]),
    ("port-zero", sub("port: 9000", "port: 0"), [("IM1028", "port", "port: |0")]),
    ("port-too-big", sub("port: 9000", "port: 65536"), [("IM1028", "port", "65536")]),
    ("port-string", sub("port: 9000", 'port: "9000"'), [("IM1012", "port", '"9000"')]),
    ("port-float", sub("port: 9000", "port: 90.5"), [("IM1012", "port", "90.5")]),
    ("cpu-zero", sub("cpu: 2", "cpu: 0"), [("IM1030", "resources.cpu", "cpu: |0")]),
    ("cpu-negative", sub("cpu: 2", "cpu: -1"), [("IM1030", "resources.cpu", "-1")]),
    ("cpu-garbage", sub("cpu: 2", "cpu: two"), [("IM1030", "resources.cpu", "two")]),
    ("cpu-too-fine", sub("cpu: 2", "cpu: 0.0001"), [("IM1030", "resources.cpu", "0.0001")]),
    ("memory-bad-suffix", sub("memory: 4Gi", "memory: 4GB"), [("IM1031", "resources.memory", "4GB")]),
    ("memory-zero", sub("memory: 4Gi", "memory: 0"), [("IM1031", "resources.memory", "memory: |0")]),
    ("memory-milli", sub("memory: 4Gi", "memory: 100m"), [("IM1031", "resources.memory", "100m")]),
    ("memory-fraction-of-byte", sub("memory: 4Gi", "memory: 0.5"), [("IM1031", "resources.memory", "0.5")]),
    # Less than the 6 MiB an engine starts a container with: it would validate and never run.
    ("memory-below-engine-minimum", sub("memory: 4Gi", "memory: 5Mi"), [("IM1031", "resources.memory", "5Mi")]),
    ("memory-bytes-below-engine-minimum", sub("memory: 4Gi", "memory: 6291455"), [("IM1031", "resources.memory", "6291455")]),
    ("gpu-negative", sub("gpu: false", "gpu: -1"), [("IM1032", "resources.gpu", "-1")]),
    ("gpu-string", sub("gpu: false", "gpu: yes-please"), [("IM1032", "resources.gpu", "yes-please")]),
    ("resources-scalar", sub("""resources:
  cpu: 2
  memory: 4Gi
  gpu: false""", "resources: big"), [("IM1012", "resources", "big")]),
    ("timeout-bad", BASE + "timeout: soon\n", [("IM1033", "timeout", "soon")]),
    ("schema-type-not-object", sub("input_schema:\n  type: object", "input_schema:\n  type: string"), [("IM1042", "input_schema.type", ("@", 12, 3))]),
    ("schema-no-type", sub("output_schema:\n  type: object\n", "output_schema:\n"), [("IM1042", "output_schema.type", ("@", 18, 3))]),
    ("schema-bad-keyword-value", sub("      type: string\n  required", "      type: string\n      minLength: -3\n  required"), [("IM1040", "input_schema.properties.text.minLength", "minLength")]),
    ("schema-bad-type-name", sub("    summary:\n      type: string", "    summary:\n      type: str"), [("IM1040", "output_schema.properties.summary.type", ("@", 21, 7))]),
    ("schema-required-not-list", sub("required: [text]", "required: text"), [("IM1040", "input_schema.required", "required")]),
    ("schema-ref-unresolved", sub("      type: string\n  required", "      $ref: '#/definitions/nothing'\n  required"), [("IM1041", "input_schema.properties.text.$ref", "$ref")]),
    ("schema-ref-external", sub("      type: string\n  required", "      $ref: 'other.json#/x'\n  required"), [("IM1041", "input_schema.properties.text.$ref", "$ref")]),
    # Patterns are matched in linear time: one the engine cannot run that way is refused where it is written.
    ("schema-pattern-catastrophic-backreference", sub("      type: string\n  required", "      type: string\n      pattern: '^(a+)+\\1$'\n  required"),
        [("IM1045", "input_schema.properties.text.pattern", "pattern")]),
    ("schema-pattern-lookahead", sub("    summary:\n      type: string", "    summary:\n      type: string\n      pattern: '^(?=x)x+$'"),
        [("IM1045", "output_schema.properties.summary.pattern", "pattern")]),
    ("schema-pattern-properties-huge-repeat", sub("  required: [text]", "  patternProperties:\n    '^(?:[a-z]{1,50}){1,50}$': {type: string}\n  required: [text]"),
        [("IM1045", "input_schema.patternProperties.^(?:[a-z]{1,50}){1,50}$", "'^(?:")]),
    ("schema-dialect", sub("input_schema:\n  type: object", "input_schema:\n  $schema: https://json-schema.org/draft/2020-12/schema\n  type: object"), [("IM1044", "input_schema.$schema", "$schema")]),
    ("schema-scalar", sub("""output_schema:
  type: object
  properties:
    summary:
      type: string""", "output_schema: true"), [("IM1012", "output_schema", "true")]),
    ("schema-file-missing", sub("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]""", "input_schema:\n  $ref: schemas/nope.json"), [("IM1023", "input_schema.$ref", "schemas/nope.json")]),
    ("schema-file-escape", sub("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]""", "input_schema:\n  $ref: ../in.json"), [("IM1022", "input_schema.$ref", "../in.json")]),
    ("schema-file-broken-json", sub("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]""", "input_schema:\n  $ref: schemas/broken.json"), [("IM1043", "input_schema.$ref", None)]),
    ("schema-file-not-object", sub("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]""", "input_schema:\n  $ref: schemas/not-object.json"), [("IM1042", "input_schema.type", "FILE:schemas/not-object.json:1:2")]),
    ("schema-file-bad-meta", sub("""input_schema:
  type: object
  properties:
    text:
      type: string
  required: [text]""", "input_schema:\n  $ref: schemas/bad-meta.json"), [("IM1040", "input_schema.properties.text.minLength", "FILE:schemas/bad-meta.json:4:32")]),
    ("duplicate-key", BASE + "port: 9001\n", [("IM1007", "port", "port: 9001")]),
    ("tab-indent", sub("  cpu: 2", "\tcpu: 2"), [("IM1006", "", "\tcpu")]),
    ("syntax-unclosed-bracket", sub("required: [text]", "required: [text"), [("IM1005", "", None)]),
    ("syntax-bad-indent", sub("  memory: 4Gi", "    memory: 4Gi"), [("IM1005", "", None)]),
    ("not-a-mapping", "- name: summarizer-v1\n- version: 0.4.2\n", [("IM1008", "", ("@", 1, 1))]),
    ("scalar-document", "just some text\n", [("IM1008", "", ("@", 1, 1))]),
    ("empty-file", "", [("IM1004", "", None)]),
    ("only-comments", "# nothing here\n", [("IM1004", "", None)]),
    ("two-documents", BASE + "---\nname: other\n", [("IM1009", "", None)]),
    ("many-errors-at-once", sub("name: summarizer-v1", "name: Bad_Name").replace("version: 0.4.2", "version: x").replace("port: 9000", "port: 0"),
        [("IM1020", "name", "Bad_Name"), ("IM1021", "version", "version: |x"), ("IM1028", "port", "port: |0")]),
]

def locate(text, anchor):
    if anchor is None:
        return "-"
    if isinstance(anchor, tuple):
        return f"{anchor[1]}:{anchor[2]}"
    if anchor.startswith("FILE:"):
        return anchor[5:]
    offset = 0
    if "|" in anchor:
        offset = anchor.index("|")
        anchor = anchor.replace("|", "")
    i = text.index(anchor) + offset
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return f"{line}:{col}"

here = os.path.dirname(os.path.abspath(__file__))
for kind in ("valid", "invalid"):
    os.makedirs(os.path.join(here, kind), exist_ok=True)
    for f in os.listdir(os.path.join(here, kind)):
        os.remove(os.path.join(here, kind, f))
for name, text in VALID.items():
    with open(os.path.join(here, "valid", name + ".yaml"), "w") as f:
        f.write(text)
for name, text, expects in INVALID:
    trailer = "".join(f"# expect: {c} {p or '-'} {locate(text, a)}\n" for c, p, a in expects)
    body = text if text.endswith("\n") or text == "" else text + "\n"
    with open(os.path.join(here, "invalid", name + ".yaml"), "w") as f:
        f.write(body + trailer if "IM1004" not in [c for c, _, _ in expects] else body)
    if "IM1004" in [c for c, _, _ in expects]:
        with open(os.path.join(here, "invalid", name + ".expect"), "w") as f:
            f.write(trailer)
print(len(VALID), "valid,", len(INVALID), "invalid")
