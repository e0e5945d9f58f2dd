namespace InfraMind.Serving;

/// <summary>Stable codes of mesh errors a user can hit (IM60xx): gateway answers, node refusals, serving commands.</summary>
public static class MeshErrorCodes
{
    public static readonly ErrorCode ModelNotFound = new("IM6001", FailureKind.CheckFailed, "GET /inference/v1 lists the published models and versions");
    public static readonly ErrorCode NoReadyNode = new("IM6002", FailureKind.Unavailable);
    public static readonly ErrorCode InputInvalid = new("IM6003", FailureKind.CheckFailed);
    public static readonly ErrorCode AllAttemptsFailed = new("IM6004", FailureKind.Unavailable);
    public static readonly ErrorCode Quarantined = new("IM6005", FailureKind.Unavailable, "publish a fixed version");
    public static readonly ErrorCode UnsupportedMediaType = new("IM6006", FailureKind.CheckFailed);
    public static readonly ErrorCode BodyTooLarge = new("IM6007", FailureKind.CheckFailed);
    public static readonly ErrorCode MalformedJson = new("IM6008", FailureKind.CheckFailed);
    public static readonly ErrorCode VersionInvalid = new("IM6009", FailureKind.Usage);
    public static readonly ErrorCode NodeRefused = new("IM6010", FailureKind.CheckFailed);
    public static readonly ErrorCode ImageUnavailable = new("IM6011", FailureKind.Unavailable,
        "the node refuses what it cannot fetch and verify: see the message for the link that failed");
    public static readonly ErrorCode ModelNotReadyOnNode = new("IM6012", FailureKind.Unavailable);
    public static readonly ErrorCode UnknownNode = new("IM6013", FailureKind.CheckFailed);
    public static readonly ErrorCode RegistrationInvalid = new("IM6014", FailureKind.Usage,
        "fix what the message names in the node's options or its reports (`infra node serve --help` lists them), then start the node again");
    public static readonly ErrorCode NodeUnauthorized = new("IM6015", FailureKind.Unavailable, "give the node the gateway's mesh token file (--token-file)");

    /// <summary>`infra node serve`: the mesh token file is missing, empty or holds no token.</summary>
    public static readonly ErrorCode TokenFileInvalid = new("IM6016", FailureKind.Usage, "`infra gateway serve` writes the token to $INFRAMIND_HOME/mesh/node-token; pass another file with --token-file");

    /// <summary>400: the body is not UTF-8, or a string in it is not Unicode (an unpaired surrogate escape).</summary>
    public static readonly ErrorCode BodyNotUtf8 = new("IM6017", FailureKind.CheckFailed, "send the input as UTF-8 JSON");

    /// <summary>400: an object in the body has the same key twice; a model could read either value.</summary>
    public static readonly ErrorCode DuplicateKey = new("IM6018", FailureKind.CheckFailed, "send each key of an object once");

    /// <summary>409: another node holds this node id (bound to its credential at its first registration).</summary>
    public static readonly ErrorCode NodeIdTaken = new("IM6019", FailureKind.Unavailable, "start the node with another --id, or with the credential file of the node that registered the id");

    /// <summary>A gateway option is invalid.</summary>
    public static readonly ErrorCode GatewayOptionInvalid = new("IM6020", FailureKind.Usage,
        "`infra gateway serve --help` lists the gateway's options and their ranges");

    /// <summary>403: a heartbeat or re-registration without the credential the gateway issued to that node id.</summary>
    public static readonly ErrorCode NodeCredentialInvalid = new("IM6022", FailureKind.CheckFailed, "a node speaks only for itself: send the credential its registration returned");

    /// <summary>503: the gateway holds as many nodes as it admits; offline nodes are forgotten after a while.</summary>
    public static readonly ErrorCode TooManyNodes = new("IM6023", FailureKind.Unavailable,
        "wait until offline nodes are forgotten, or start the gateway with a larger --max-nodes");

    /// <summary>A serving command cannot listen: its port is taken.</summary>
    public static readonly ErrorCode ListenFailed = new("IM6021", FailureKind.Unavailable, "choose a free port with --port, or stop what holds it");

    /// <summary>`infra mesh status`: the gateway did not answer, or what it answered is not its mesh state.</summary>
    public static readonly ErrorCode GatewayUnreachable = new("IM6024", FailureKind.Unavailable, "start the gateway (infra mesh up, infra gateway serve) or name it with --gateway URL");

    /// <summary>The V2 gRPC ingress: a ModelInfer request without model_name, or without the json input tensor.</summary>
    public static readonly ErrorCode GrpcRequestInvalid = new("IM6025", FailureKind.CheckFailed,
        "send model_name and one BYTES input tensor named 'json', shape [1], the JSON document in contents.bytes_contents[0] (docs/protocols.md)");

    /// <summary>503: the gateway has as many inference requests in flight as it takes (GatewayOptions.MaxInferencesInFlight).</summary>
    public static readonly ErrorCode GatewayBusy = new("IM6026", FailureKind.Unavailable, "retry after the Retry-After seconds, or send to another gateway of the mesh");

    /// <summary>429: one client address has as many inference requests in flight as the gateway takes from one (MaxInferencesInFlightPerAddress).</summary>
    public static readonly ErrorCode TooManyFromAddress = new("IM6027", FailureKind.Unavailable, "send fewer requests at once, or retry after the Retry-After seconds");

    /// <summary>404: the gateway serves nothing at the path (an unknown path, or a segment past a model's name); the detail lists what it serves.</summary>
    public static readonly ErrorCode NoSuchPath = new("IM6028", FailureKind.CheckFailed,
        "inference is POST /inference/v1/NAME or POST /inference/v1/NAME/versions/VERSION; GET /inference/v1 lists the models");

    /// <summary>405: the path is served, but not with this method; the Allow header names the methods it takes.</summary>
    public static readonly ErrorCode MethodNotAllowed = new("IM6029", FailureKind.CheckFailed,
        "send the request with a method the Allow header names: an inference request is a POST with the input as its JSON body");

    /// <summary>404 from a node: its job API serves nothing at the path; the detail lists what it serves.</summary>
    public static readonly ErrorCode NodeNoSuchPath = new("IM6030", FailureKind.CheckFailed,
        "a node serves its gateway (POST /jobs/NAME/VERSION) and its operator (GET /healthz, /models, /metrics): send inference requests to the gateway");

    /// <summary>405 from a node: the path is served, but not with this method; the Allow header names the methods it takes.</summary>
    public static readonly ErrorCode NodeMethodNotAllowed = new("IM6031", FailureKind.CheckFailed,
        "send the request with a method the Allow header names: a job is a POST, sent by the node's gateway");

    /// <summary>
    /// 503 from a node's job API (verdict node-busy): the model's container has NodeOptions.MaxJobsPerModel jobs in flight and
    /// MaxQueuedJobsPerModel waiting, or the job's time limit passed while it waited; at the gateway, every attempt of a request found its node busy.
    /// </summary>
    public static readonly ErrorCode NodeBusy = new("IM6038", FailureKind.Unavailable,
        "retry after the Retry-After seconds; an operator can add nodes for the model, or raise --max-jobs-per-model where its containers take more at once");

    /// <summary>The V2 gRPC ingress: a request message that is not valid protobuf for its method (INVALID_ARGUMENT, never read further).</summary>
    public static readonly ErrorCode GrpcMessageMalformed = new("IM6039", FailureKind.CheckFailed,
        "encode the request with the Open Inference Protocol V2 .proto (or grpc.health.v1's for Health); docs/protocols.md lists the messages");

    /// <summary>
    /// The V2 gRPC ingress: a request message that would make more objects or numbers of itself than the gateway parses
    /// (RESOURCE_EXHAUSTED, never parsed).
    /// </summary>
    public static readonly ErrorCode GrpcMessageOverLimits = new("IM6050", FailureKind.CheckFailed,
        "send one BYTES input tensor named 'json' with the JSON document, and few parameters or requested outputs (docs/protocols.md)");

    /// <summary>409: a registration for a node id that is bound to another key (the key of its first registration).</summary>
    public static readonly ErrorCode NodeKeyMismatch = new("IM6040", FailureKind.Unavailable,
        "start the node with the key it first registered with (infra node serve --key NAME), or with another --id");

    /// <summary>401: a registration or heartbeat of a node with a key, without a valid signature by that key (or for another gateway).</summary>
    public static readonly ErrorCode NodeSignatureInvalid = new("IM6041", FailureKind.CheckFailed,
        "a node with a key signs every registration and heartbeat (InfraMind-Signature); check that it runs with the key its id is bound to");

    /// <summary>401: a signed request whose time is outside the allowed clock skew, or not newer than the node's last one (a replay).</summary>
    public static readonly ErrorCode SignatureExpired = new("IM6042", FailureKind.CheckFailed,
        "keep the node's and the gateway's clocks in sync (NTP); a request signed earlier cannot be sent again");

    /// <summary>409: the node's key is bound to another node id, online now; a key registers one node at a time.</summary>
    public static readonly ErrorCode NodeKeyInUse = new("IM6051", FailureKind.Unavailable,
        "give each node a key of its own (infra keys generate --name NAME, then infra node serve --key NAME), or stop the node that uses this key first");

    /// <summary>403: the gateway admits only listed node keys (--admit-node-key, --admit-node-keys), and this node's key is not one.</summary>
    public static readonly ErrorCode NodeKeyNotAdmitted = new("IM6043", FailureKind.Unavailable,
        "give the gateway's operator the node's fingerprint (infra keys list) to add with --admit-node-key");

    /// <summary>A node admits only listed gateway keys (--admit-gateway-key) and the gateway's registration reply is not signed by one.</summary>
    public static readonly ErrorCode GatewayKeyNotAdmitted = new("IM6044", FailureKind.Unavailable,
        "start the gateway with an admitted key (infra gateway serve --key NAME), or admit its fingerprint with --admit-gateway-key");

    /// <summary>A job receipt is not signed by the expected node key, or does not match the request, the answer or the model it names.</summary>
    public static readonly ErrorCode ReceiptInvalid = new("IM6045", FailureKind.CheckFailed,
        "verify against the key of the node named in the receipt (infra receipt verify --fingerprint F), with the exact input and output bytes");

    /// <summary>
    /// A mesh member's TLS certificate is not the one pinned for it: a node's job API presented another key than the
    /// fingerprint its (signed) registration carries, or a gateway another than the node's --gateway-fingerprint.
    /// </summary>
    public static readonly ErrorCode TlsPinMismatch = new("IM6046", FailureKind.Unavailable,
        "a restarted node registers its new fingerprint by itself; otherwise someone else answers at that address: check where it routes");

    /// <summary>A kept TLS certificate file ($INFRAMIND_HOME/mesh/tls/) cannot be read.</summary>
    public static readonly ErrorCode TlsCertificateInvalid = new("IM6047", FailureKind.CheckFailed,
        "remove it to have a new one made (peers then need the new fingerprint: register again), or restore it from a backup");

    /// <summary>The node bindings a gateway keeps across restarts (<c>$INFRAMIND_HOME/mesh/gateways/</c>) cannot be read.</summary>
    public static readonly ErrorCode NodeBindingsInvalid = new("IM6052", FailureKind.CheckFailed,
        "restore the file from a backup, or move it aside to start with none: every node then registers again, and until it does its id goes to whoever claims it first");

    /// <summary>`infra mesh down`: the recorded `mesh up` was sent SIGTERM and still runs after --timeout.</summary>
    public static readonly ErrorCode MeshDidNotStop = new("IM6048", FailureKind.Unavailable);

    /// <summary>`infra mesh up`: a mesh of the same home runs (its record names a live `infra mesh up`), whatever registry either serves.</summary>
    public static readonly ErrorCode MeshAlreadyRunning = new("IM6049", FailureKind.Unavailable,
        "stop it with `infra mesh down` (any shell with this INFRAMIND_HOME), or start this one with another INFRAMIND_HOME");
}
