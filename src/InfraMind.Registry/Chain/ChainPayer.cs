using System.Numerics;
using System.Security.Cryptography;
using InfraMind.Signing;
using Nethereum.Hex.HexTypes;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Signer;

namespace InfraMind.Registry.Chain;

/// <summary>
/// Who pays the gas of a registry transaction: a secp256k1 key from the key store (signed here, legacy transactions with
/// an explicit chain id), or an account the node holds unlocked (dev chains: ganache's deterministic accounts). Payer
/// and record signer are independent: the contract checks the record's EIP-712 signature, never the sender.
/// One payer object may send from many tasks at once: nonces are assigned under a lock, and a nonce the node refuses
/// (another process sent from the same account) is re-read and retried, so no nonce is skipped or left stuck.
/// </summary>
public abstract class ChainPayer : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    private protected ChainPayer(string address) => Address = address;

    /// <summary>
    /// Held from the gas estimate to the send of each of this payer's transactions: nonces are assigned in order, and
    /// a payer's estimate never overlaps its own previous send being mined (ganache 7 can leave such an estimate unanswered).
    /// </summary>
    internal SemaphoreSlim Gate => _gate;

    /// <summary>The EIP-55 address that pays.</summary>
    public string Address { get; }

    /// <summary>A payer that signs with <paramref name="key"/> (a secp256k1 key; <see cref="ChainErrorCodes.KeyNotSecp256k1"/> otherwise).</summary>
    public static ChainPayer FromKey(SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Type != KeyType.Secp256k1)
        {
            throw new ChainException(ChainErrorCodes.KeyNotSecp256k1, $"key '{key.Name}' is {key.Type.ToName()} and cannot pay for transactions.");
        }

        return new KeyPayer(key.ExportSecp256k1Scalar(), key.PublicKey.EthereumAddress!);
    }

    /// <summary>An account the node signs for (<c>eth_sendTransaction</c>): a dev chain's unlocked account.</summary>
    public static ChainPayer Unlocked(string address)
    {
        if (!ChainRegistryAddress.IsAddress(address ?? ""))
        {
            throw new ChainException(ChainErrorCodes.InvalidUrl, $"'{address}' is not an account address (0x followed by 40 hex digits).", "give the address of an account the node holds unlocked");
        }

        return new UnlockedPayer(new Nethereum.Util.AddressUtil().ConvertToChecksumAddress(address));
    }

    /// <summary>The transaction with <paramref name="nonce"/> is mined, failed or gone: it no longer holds its nonce.</summary>
    internal virtual void Settled(BigInteger nonce)
    {
    }

    /// <summary>Signs (or asks the node to sign) and sends, with <see cref="Gate"/> held; returns the transaction hash and the nonce it used.</summary>
    internal abstract Task<(string Hash, BigInteger Nonce)> SubmitAsync(ChainRpc rpc, long chainId, string? to, string data, BigInteger gas, BigInteger gasPrice, string action, CancellationToken cancellationToken);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _gate.Dispose();
        }
    }

    private sealed class KeyPayer(byte[] scalar, string address) : ChainPayer(address)
    {
        private const int NonceAttempts = 5;
        private readonly HashSet<BigInteger> _inFlight = [];
        private BigInteger? _next;

        internal override void Settled(BigInteger nonce)
        {
            lock (_inFlight)
            {
                _inFlight.Remove(nonce);
            }
        }

        internal override async Task<(string Hash, BigInteger Nonce)> SubmitAsync(ChainRpc rpc, long chainId, string? to, string data, BigInteger gas, BigInteger gasPrice, string action, CancellationToken cancellationToken)
        {
            // The caller holds Gate: one assignment of a nonce at a time.
            for (var attempt = 1; ; attempt++)
            {
                // The next nonce is the account's mined count plus what this payer has in flight: a cached nonce beyond
                // that belonged to transactions a reorganisation dropped, and would leave every later one stuck behind a gap.
                var mined = await rpc.CallAsync("reading the payer's nonce", async () =>
                    (await rpc.Web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(Address, BlockParameter.CreatePending()).ConfigureAwait(false)).Value, cancellationToken).ConfigureAwait(false);
                BigInteger nonce;
                lock (_inFlight)
                {
                    _inFlight.RemoveWhere(n => n < mined);
                    var ceiling = mined + _inFlight.Count;
                    nonce = _next is { } cached && cached >= mined && cached <= ceiling ? cached : ceiling;
                }

                var raw = new LegacyTransactionSigner().SignTransaction(scalar, new BigInteger(chainId), to, BigInteger.Zero, nonce, gasPrice, gas, data);
                try
                {
                    var hash = await rpc.Web3.Eth.Transactions.SendRawTransaction.SendRequestAsync("0x" + raw).WaitAsync(cancellationToken).ConfigureAwait(false);
                    _next = nonce + 1;
                    lock (_inFlight)
                    {
                        _inFlight.Add(nonce);
                    }

                    return (hash, nonce);
                }
                catch (RpcResponseException ex) when (IsNonceRefusal(ex.RpcError.Message) && attempt < NonceAttempts)
                {
                    // Another sender used this nonce (or the node knows it already): read the account's nonce again.
                    _next = null;
                }
                catch (RpcResponseException ex)
                {
                    _next = null;
                    throw IsNonceRefusal(ex.RpcError.Message)
                        ? new ChainException(ChainErrorCodes.NonceConflict, $"{action}: the node refused nonce {nonce} of {Address} {NonceAttempts} times ({ex.RpcError.Message}).", null, ex)
                        : rpc.RevertOrError(ex, action);
                }
                catch (Exception ex) when (ChainRpc.IsTransportFailure(ex, cancellationToken))
                {
                    // The node may or may not have taken the transaction: read the nonce again next time.
                    _next = null;
                    throw rpc.Unavailable(action, ex);
                }
            }
        }

        private static bool IsNonceRefusal(string? message) => message is not null &&
            (message.Contains("nonce", StringComparison.OrdinalIgnoreCase) || message.Contains("already known", StringComparison.OrdinalIgnoreCase)
             || message.Contains("underpriced", StringComparison.OrdinalIgnoreCase) || message.Contains("replace", StringComparison.OrdinalIgnoreCase));

        protected override void Dispose(bool disposing)
        {
            CryptographicOperations.ZeroMemory(scalar);
            base.Dispose(disposing);
        }
    }

    private sealed class UnlockedPayer(string address) : ChainPayer(address)
    {
        private bool _unlocked;

        internal override async Task<(string Hash, BigInteger Nonce)> SubmitAsync(ChainRpc rpc, long chainId, string? to, string data, BigInteger gas, BigInteger gasPrice, string action, CancellationToken cancellationToken)
        {
            if (!_unlocked)
            {
                // Nodes word the refusal of an account they do not hold differently (and ganache as a parse error): ask which they hold.
                var accounts = await rpc.CallAsync("reading the node's unlocked accounts", () => rpc.Web3.Eth.Accounts.SendRequestAsync(), cancellationToken).ConfigureAwait(false);
                _unlocked = accounts?.Any(a => a.Equals(Address, StringComparison.OrdinalIgnoreCase)) == true;
                if (!_unlocked)
                {
                    throw new ChainException(ChainErrorCodes.PayerNotUnlocked, $"{action}: the node at {rpc.Endpoint} holds no unlocked account {Address}, so it cannot sign for it.");
                }
            }

            var input = new TransactionInput { From = Address, To = to, Data = data, Gas = new HexBigInteger(gas), GasPrice = new HexBigInteger(gasPrice), Value = new HexBigInteger(0) };
            string hash;
            try
            {
                hash = await rpc.Web3.Eth.Transactions.SendTransaction.SendRequestAsync(input).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcResponseException ex)
            {
                throw rpc.RevertOrError(ex, action);
            }
            catch (Exception ex) when (ChainRpc.IsTransportFailure(ex, cancellationToken))
            {
                throw rpc.Unavailable(action, ex);
            }

            var tx = await rpc.CallAsync("reading the sent transaction", () => rpc.Web3.Eth.Transactions.GetTransactionByHash.SendRequestAsync(hash), cancellationToken).ConfigureAwait(false);
            return (hash, tx?.Nonce?.Value ?? BigInteger.MinusOne);
        }
    }
}
