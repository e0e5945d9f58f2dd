namespace InfraMind.Registry.Chain;

/// <summary>Stable codes of the on-chain registry (IM57xx). Never renumber: scripts match on them.</summary>
public static class ChainErrorCodes
{
    // Reaching the chain and the contract.
    public static readonly ErrorCode RpcUnavailable = new("IM5701", FailureKind.Unavailable, "start the chain node, or fix where it is named: HOST:PORT of the eth:// URL (`chain deploy`: its --rpc URL)");
    public static readonly ErrorCode WrongChain = new("IM5702", FailureKind.CheckFailed, "point the eth:// URL at the chain the registry lives on, or fix ?chainId=");
    public static readonly ErrorCode NoContract = new("IM5703", FailureKind.CheckFailed, "deploy a registry (`infra chain deploy`) and use the address it prints");
    public static readonly ErrorCode NotARegistry = new("IM5704", FailureKind.CheckFailed, "use the address `infra chain deploy` printed; this one holds another contract");
    public static readonly ErrorCode InvalidUrl = new("IM5705", FailureKind.Usage, "write eth://HOST:PORT/0xCONTRACT[?chainId=N] (eths:// for TLS)");
    public static readonly ErrorCode RpcError = new("IM5706", FailureKind.Unavailable);
    public static readonly ErrorCode InvalidAnswer = new("IM5707", FailureKind.Unavailable, "the chain node is broken, or not a node of this chain: use another node; a follower tries again and resumes where it stopped");

    // The contract refused (decoded revert reasons).
    public static readonly ErrorCode NameOwnedByAnotherKey = new("IM5710", FailureKind.CheckFailed, "publish under another name, or ask the owner to transfer it");
    public static readonly ErrorCode VersionExists = new("IM5711", FailureKind.CheckFailed, "published versions are immutable: bump the version in model.yaml");
    public static readonly ErrorCode SignatureExpired = new("IM5712", FailureKind.CheckFailed, "sign again: the signature's deadline passed before the transaction was mined");
    public static readonly ErrorCode BadNonce = new("IM5713", FailureKind.CheckFailed, "sign again with the name's current nonce: this signature was used already (replay)");
    public static readonly ErrorCode InvalidSignature = new("IM5714", FailureKind.CheckFailed);
    public static readonly ErrorCode UnknownVersion = new("IM5715", FailureKind.CheckFailed,
        "`infra log --registry eth://…` lists what the registry holds");
    public static readonly ErrorCode AlreadyYanked = new("IM5716", FailureKind.CheckFailed);
    public static readonly ErrorCode AnchorExists = new("IM5717", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidField = new("IM5718", FailureKind.CheckFailed);
    public static readonly ErrorCode Reverted = new("IM5719", FailureKind.CheckFailed);

    // Transactions.
    public static readonly ErrorCode GasEstimationFailed = new("IM5720", FailureKind.CheckFailed,
        "check the payer's balance and the transaction's target");
    public static readonly ErrorCode InsufficientFunds = new("IM5721", FailureKind.CheckFailed, "fund the payer account, or pay with another (--payer)");
    public static readonly ErrorCode TransactionReplaced = new("IM5722", FailureKind.Unavailable, "run the command again: another transaction took this one's nonce, or the node dropped it");
    public static readonly ErrorCode TransactionTimeout = new("IM5723", FailureKind.Unavailable, "the transaction may still be mined: check it by its hash, then run the command again");
    public static readonly ErrorCode NonceConflict = new("IM5724", FailureKind.Unavailable, "another process sends from the same payer: run the command again");

    // Statements and records as verifiers see them.
    public static readonly ErrorCode StatementUnavailable = new("IM5730", FailureKind.Unavailable, "the statement's location does not answer: publish it again where verifiers can fetch it");
    public static readonly ErrorCode StatementDigestMismatch = new("IM5731", FailureKind.CheckFailed,
        "the statement store serves another statement than the chain records: do not use it; restore the statement or ask the publisher to publish again");
    public static readonly ErrorCode StatementMismatch = new("IM5732", FailureKind.CheckFailed);
    public static readonly ErrorCode StatementTooLarge = new("IM5733", FailureKind.CheckFailed);
    public static readonly ErrorCode Yanked = new("IM5734", FailureKind.CheckFailed, "use another version: the owner yanked this one");
    public static readonly ErrorCode SignerMismatch = new("IM5735", FailureKind.CheckFailed);
    public static readonly ErrorCode RecordMismatch = new("IM5736", FailureKind.CheckFailed,
        "use a chain node that keeps the full history (not pruned) and is in sync");
    public static readonly ErrorCode StatementInvalid = new("IM5737", FailureKind.CheckFailed);

    // Keys, payers, the indexer and anchors.
    public static readonly ErrorCode KeyNotSecp256k1 = new("IM5740", FailureKind.Usage, "chain records are signed with secp256k1 keys: `infra keys generate --type secp256k1` or `infra keys import`");
    public static readonly ErrorCode PayerNotUnlocked = new("IM5741", FailureKind.Usage, "only dev chains hold unlocked accounts: pay with a funded secp256k1 key instead (`infra keys import`, then --payer NAME)");
    public static readonly ErrorCode IndexStateInvalid = new("IM5750", FailureKind.CheckFailed, "the index directory belongs to another registry or is damaged: give another directory or delete it to index again");
    public static readonly ErrorCode AnchorNotFound = new("IM5751", FailureKind.CheckFailed, "anchor a checkpoint first (`anchorRoot`), then prove against it");
    public static readonly ErrorCode AnchorMismatch = new("IM5752", FailureKind.CheckFailed);
}

/// <summary>A failure of the chain backend; <see cref="InfraMindException.Code"/> is one of <see cref="ChainErrorCodes"/>.</summary>
public sealed class ChainException : InfraMindException
{
    public ChainException(ErrorCode code, string message, string? hint = null, Exception? innerException = null)
        : base(code, message, hint, innerException)
    {
    }

    public ChainException()
        : this(ChainErrorCodes.RpcError, "chain error")
    {
    }

    public ChainException(string message)
        : this(ChainErrorCodes.RpcError, message)
    {
    }

    public ChainException(string message, Exception innerException)
        : this(ChainErrorCodes.RpcError, message, null, innerException)
    {
    }

    /// <summary>Revert details when the contract refused: the custom error's name and its decoded arguments.</summary>
    public ContractRevert? Revert { get; init; }
}
