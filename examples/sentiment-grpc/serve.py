#!/usr/bin/env python3
# sentiment-grpc: a lexicon-based sentiment model over the Open Inference Protocol V2 gRPC API (KServe's
# GRPCInferenceService) plus grpc.health.v1, Python standard library + grpcio + protobuf.
# The JSON document travels as one BYTES tensor named "json", shape [1], in both directions: the request's
# inputs[0].contents.bytes_contents[0] holds {"text": "..."}, the answer's output "json" holds
# {"label", "score", "matched"}. An input that breaks the schema gets INVALID_ARGUMENT.
# The protocol's messages are built at run time from inference_v2.json (a FileDescriptorSet written by
# `infra init`), so no protoc is needed.
import json
import os
import re
import struct
import sys
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, json_format, message_factory

NAME = "sentiment-grpc"
PORT = int(os.environ.get("PORT", "50051"))
HERE = os.path.dirname(os.path.abspath(__file__))
WORD = re.compile(r"[a-z']+")
NEGATORS = {"not", "no", "never", "hardly", "isn't", "wasn't", "don't", "doesn't", "didn't", "can't", "won't"}
MAX_MESSAGE = 4 << 20


def load_messages(path=os.path.join(HERE, "inference_v2.json")):
    with open(path, encoding="utf-8") as f:
        files = json_format.Parse(f.read(), descriptor_pb2.FileDescriptorSet())
    return message_factory.GetMessages(files.file)


def load_lexicon(path=os.path.join(HERE, "lexicon.tsv")):
    lexicon = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                word, weight = line.split("\t")
                lexicon[word] = float(weight)
    if not lexicon:
        raise ValueError("empty lexicon")
    return lexicon


M = load_messages()
LEXICON = load_lexicon()


def classify(text):
    total, matched, negate = 0.0, 0, 0
    for w in WORD.findall(text.lower()):
        if w in NEGATORS:
            negate = 3
            continue
        if w in LEXICON:
            total += -LEXICON[w] if negate else LEXICON[w]
            matched += 1
        negate = max(0, negate - 1)
    score = 0.0 if matched == 0 else max(-1.0, min(1.0, total / (matched * 3.0)))
    label = "positive" if score > 0.1 else "negative" if score < -0.1 else "neutral"
    return {"label": label, "score": round(score, 4), "matched": matched}


def json_input(request):
    for i, tensor in enumerate(request.inputs):
        if tensor.name != "json":
            continue
        if tensor.contents.bytes_contents:
            return tensor.contents.bytes_contents[0]
        if i < len(request.raw_input_contents):
            raw = request.raw_input_contents[i]
            if len(raw) >= 4 and struct.unpack("<I", raw[:4])[0] == len(raw) - 4:
                return raw[4:]
    return None


def model_infer(request, context):
    if request.model_name not in ("", NAME):
        context.abort(grpc.StatusCode.NOT_FOUND, "no model named %r here, only %r" % (request.model_name, NAME))
    raw = json_input(request)
    if raw is None:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected a BYTES input tensor named 'json', shape [1]")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the 'json' tensor is not JSON")
    if not isinstance(doc, dict) or set(doc) != {"text"} or not isinstance(doc["text"], str) or not doc["text"]:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, 'expected {"text": non-empty string} and nothing else')
    if len(doc["text"]) > 20000:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "text longer than 20000 characters")
    answer = M["inference.ModelInferResponse"](model_name=NAME, model_version=request.model_version, id=request.id)
    out = answer.outputs.add(name="json", datatype="BYTES", shape=[1])
    out.contents.bytes_contents.append(json.dumps(classify(doc["text"])).encode())
    return answer


def tensor(name):
    return M["inference.ModelMetadataResponse.TensorMetadata"](name=name, datatype="BYTES", shape=[1])


def model_metadata(request, context):
    if request.name != NAME:
        context.abort(grpc.StatusCode.NOT_FOUND, "no model named %r here" % request.name)
    return M["inference.ModelMetadataResponse"](name=NAME, platform="python", inputs=[tensor("json")], outputs=[tensor("json")])


def health_check(request, context):
    if request.service not in ("", NAME):
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % request.service)
    return M["grpc.health.v1.HealthCheckResponse"](status=1)  # SERVING


def unary(function, request_type, response_type):
    return grpc.unary_unary_rpc_method_handler(
        function, request_deserializer=M[request_type].FromString, response_serializer=M[response_type].SerializeToString)


def handlers():
    v2 = {
        "ServerLive": unary(lambda r, c: M["inference.ServerLiveResponse"](live=True), "inference.ServerLiveRequest", "inference.ServerLiveResponse"),
        "ServerReady": unary(lambda r, c: M["inference.ServerReadyResponse"](ready=True), "inference.ServerReadyRequest", "inference.ServerReadyResponse"),
        "ModelReady": unary(lambda r, c: M["inference.ModelReadyResponse"](ready=r.name == NAME), "inference.ModelReadyRequest", "inference.ModelReadyResponse"),
        "ServerMetadata": unary(lambda r, c: M["inference.ServerMetadataResponse"](name=NAME), "inference.ServerMetadataRequest", "inference.ServerMetadataResponse"),
        "ModelMetadata": unary(model_metadata, "inference.ModelMetadataRequest", "inference.ModelMetadataResponse"),
        "ModelInfer": unary(model_infer, "inference.ModelInferRequest", "inference.ModelInferResponse"),
    }
    health = {"Check": unary(health_check, "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse")}
    return (grpc.method_handlers_generic_handler("inference.GRPCInferenceService", v2),
            grpc.method_handlers_generic_handler("grpc.health.v1.Health", health))


if __name__ == "__main__":
    if "--check" in sys.argv:
        print("lexicon: %d words, protocol: %d messages" % (len(LEXICON), len(M)))
        sys.exit(0)
    options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
    server.add_generic_rpc_handlers(handlers())
    server.add_insecure_port("0.0.0.0:%d" % PORT)
    server.start()
    print("%s listening on %d (gRPC, Open Inference Protocol V2)" % (NAME, PORT), flush=True)
    server.wait_for_termination()
