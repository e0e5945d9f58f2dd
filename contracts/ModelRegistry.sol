// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.37;

/// @title InfraMind model registry
/// @notice Per name and version: a commitment to the publish record (manifest digest, image digest, endpoint id, digest of
/// the signed DSSE statement and where it can be fetched), the publisher's address, the block and time. Ownership is a
/// key, never a payer: every state change carries the owner's EIP-712 signature, so anyone may submit the transaction.
/// The first key to publish a name owns it; a published version is immutable; the owner can transfer the name and yank a
/// version (a flag and an event: the record stays). Bulky data goes to event data; storage keeps hashes and packed slots.
/// Also anchors signed checkpoints of InfraMind's SQLite transparency log (anchorRoot).
contract ModelRegistry {
    /// @notice What eth:// clients check before they trust this address to be an InfraMind registry.
    bytes32 public constant REGISTRY_INTERFACE = keccak256("InfraMind.ModelRegistry/1");

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant PUBLISH_TYPEHASH = keccak256(
        "Publish(string name,string version,bytes32 manifestDigest,bytes32 imageDigest,bytes8 endpointId,bytes32 statementDigest,string statementUri,uint64 deadline)"
    );
    bytes32 private constant TRANSFER_TYPEHASH =
        keccak256("Transfer(string name,address newOwner,uint96 nonce,uint64 deadline)");
    bytes32 private constant YANK_TYPEHASH =
        keccak256("Yank(string name,string version,string reason,uint64 deadline)");
    bytes32 private constant NAME_HASH = keccak256("InfraMind ModelRegistry");
    bytes32 private constant VERSION_HASH = keccak256("1");
    // secp256k1n / 2: larger s values are the malleable twin of a valid signature (EIP-2).
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    uint256 private constant MAX_NAME = 128;
    uint256 private constant MAX_VERSION = 64;
    uint256 private constant MAX_URI = 1024;
    uint256 private constant MAX_REASON = 256;
    uint256 private constant MAX_CHECKPOINT = 2048;

    struct Record {
        string name;
        string version;
        bytes32 manifestDigest;
        bytes32 imageDigest;
        bytes8 endpointId;
        bytes32 statementDigest;
        string statementUri;
        uint64 deadline;
    }

    struct Owner {
        address owner;
        uint96 nonce; // transfers only: a publish cannot be replayed (the version exists), a yank is idempotent
    }

    struct Version {
        bytes32 recordHash; // the EIP-712 struct hash of the Publish record
        address publisher;
        uint40 blockNumber;
        uint40 timestamp;
        bool yanked;
    }

    uint256 public immutable deployedAt;
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    mapping(bytes32 nameHash => Owner) private _owners;
    mapping(bytes32 versionKey => Version) private _versions;
    mapping(bytes32 anchorKey => bytes32 root) private _anchors;

    event ModelPublished(
        bytes32 indexed nameHash,
        bytes32 indexed versionKey,
        address indexed publisher,
        string name,
        string version,
        bytes32 manifestDigest,
        bytes32 imageDigest,
        bytes8 endpointId,
        bytes32 statementDigest,
        string statementUri,
        uint64 deadline
    );
    event NameTransferred(bytes32 indexed nameHash, address indexed from, address indexed to, string name);
    event VersionYanked(bytes32 indexed nameHash, bytes32 indexed versionKey, address indexed owner, string name, string version, string reason);
    event RootAnchored(address indexed anchorer, bytes32 indexed logId, uint64 indexed size, bytes32 root, string checkpoint);

    error NameOwnedByAnotherKey(string name, address owner, address signer);
    error VersionExists(string name, string version);
    error UnknownVersion(string name, string version);
    error AlreadyYanked(string name, string version);
    error SignatureExpired(uint64 deadline, uint256 blockTime);
    error InvalidSignature();
    error BadNonce(uint96 expected, uint96 given);
    error InvalidField(string field);
    error AnchorExists(bytes32 root);

    constructor() {
        deployedAt = block.number;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    /// @notice The EIP-712 domain separator (recomputed if the chain id changed since deployment, e.g. after a fork).
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    /// @notice Publishes name@version with the publisher's EIP-712 signature over the record; the first key owns the name.
    function publish(Record calldata r, bytes calldata signature) external {
        _checkLength(bytes(r.name).length, MAX_NAME, "name");
        _checkLength(bytes(r.version).length, MAX_VERSION, "version");
        _checkLength(bytes(r.statementUri).length, MAX_URI, "statementUri");
        if (r.manifestDigest == 0 || r.imageDigest == 0 || r.statementDigest == 0) revert InvalidField("digest");
        _checkDeadline(r.deadline);

        bytes32 recordHash = keccak256(
            abi.encode(
                PUBLISH_TYPEHASH,
                keccak256(bytes(r.name)),
                keccak256(bytes(r.version)),
                r.manifestDigest,
                r.imageDigest,
                r.endpointId,
                r.statementDigest,
                keccak256(bytes(r.statementUri)),
                r.deadline
            )
        );
        address signer = _recover(recordHash, signature);

        bytes32 nameHash = keccak256(bytes(r.name));
        Owner storage owner = _owners[nameHash];
        address current = owner.owner;
        if (current == address(0)) {
            owner.owner = signer;
        } else if (current != signer) {
            revert NameOwnedByAnotherKey(r.name, current, signer);
        }

        bytes32 key = _versionKey(nameHash, r.version);
        Version storage v = _versions[key];
        if (v.recordHash != 0) revert VersionExists(r.name, r.version);
        v.recordHash = recordHash;
        v.publisher = signer;
        v.blockNumber = uint40(block.number);
        v.timestamp = uint40(block.timestamp);

        emit ModelPublished(
            nameHash, key, signer, r.name, r.version, r.manifestDigest, r.imageDigest, r.endpointId, r.statementDigest, r.statementUri, r.deadline
        );
    }

    /// @notice Hands the name to another key; signed by the current owner with the name's transfer nonce.
    function transfer(string calldata name, address newOwner, uint96 nonce, uint64 deadline, bytes calldata signature) external {
        if (newOwner == address(0)) revert InvalidField("newOwner");
        _checkDeadline(deadline);
        bytes32 nameHash = keccak256(bytes(name));
        bytes32 digest = keccak256(abi.encode(TRANSFER_TYPEHASH, nameHash, newOwner, nonce, deadline));
        address signer = _recover(digest, signature);
        Owner storage owner = _owners[nameHash];
        address current = owner.owner;
        if (current != signer) revert NameOwnedByAnotherKey(name, current, signer);
        if (owner.nonce != nonce) revert BadNonce(owner.nonce, nonce);
        owner.owner = newOwner;
        owner.nonce = nonce + 1;
        emit NameTransferred(nameHash, current, newOwner, name);
    }

    /// @notice Flags a version as yanked (it stays on record); signed by the name's current owner.
    function yank(string calldata name, string calldata version, string calldata reason, uint64 deadline, bytes calldata signature) external {
        _checkLength(bytes(reason).length + 1, MAX_REASON + 1, "reason");
        _checkDeadline(deadline);
        bytes32 nameHash = keccak256(bytes(name));
        bytes32 digest = keccak256(
            abi.encode(YANK_TYPEHASH, nameHash, keccak256(bytes(version)), keccak256(bytes(reason)), deadline)
        );
        address signer = _recover(digest, signature);
        address current = _owners[nameHash].owner;
        if (current != signer) revert NameOwnedByAnotherKey(name, current, signer);
        bytes32 key = _versionKey(nameHash, version);
        Version storage v = _versions[key];
        if (v.recordHash == 0) revert UnknownVersion(name, version);
        if (v.yanked) revert AlreadyYanked(name, version);
        v.yanked = true;
        emit VersionYanked(nameHash, key, signer, name, version, reason);
    }

    /// @notice Records the root of a transparency log at a size, keyed by the sender (the log's operator) so no one
    /// else can pre-empt it. The signed checkpoint note travels in the event for verifiers.
    function anchorRoot(bytes32 logId, uint64 size, bytes32 root, string calldata checkpoint) external {
        if (size == 0) revert InvalidField("size");
        if (root == 0) revert InvalidField("root");
        _checkLength(bytes(checkpoint).length + 1, MAX_CHECKPOINT + 1, "checkpoint");
        bytes32 key = keccak256(abi.encode(msg.sender, logId, size));
        bytes32 existing = _anchors[key];
        if (existing != 0) revert AnchorExists(existing);
        _anchors[key] = root;
        emit RootAnchored(msg.sender, logId, size, root, checkpoint);
    }

    function ownerOf(string calldata name) external view returns (address owner, uint96 nonce) {
        Owner storage o = _owners[keccak256(bytes(name))];
        return (o.owner, o.nonce);
    }

    function getVersion(string calldata name, string calldata version)
        external
        view
        returns (bytes32 recordHash, address publisher, uint64 blockNumber, uint64 timestamp, bool yanked)
    {
        Version storage v = _versions[_versionKey(keccak256(bytes(name)), version)];
        return (v.recordHash, v.publisher, v.blockNumber, v.timestamp, v.yanked);
    }

    function anchoredRoot(address anchorer, bytes32 logId, uint64 size) external view returns (bytes32) {
        return _anchors[keccak256(abi.encode(anchorer, logId, size))];
    }

    function _versionKey(bytes32 nameHash, string calldata version) private pure returns (bytes32) {
        return keccak256(abi.encode(nameHash, keccak256(bytes(version))));
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _checkLength(uint256 length, uint256 max, string memory field) private pure {
        if (length == 0 || length > max) revert InvalidField(field);
    }

    function _checkDeadline(uint64 deadline) private view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline, block.timestamp);
    }

    function _recover(bytes32 structHash, bytes calldata signature) private view returns (address signer) {
        if (signature.length != 65) revert InvalidSignature();
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 32))
            v := byte(0, calldataload(add(signature.offset, 64)))
        }
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert InvalidSignature();
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
    }
}
