using System.Numerics;
using Nethereum.Hex.HexTypes;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;

namespace InfraMind.Registry.Chain;

/// <summary>How transactions are sent and awaited.</summary>
public sealed record ChainTransactionOptions
{
    /// <summary>How long to wait for a receipt before <see cref="ChainErrorCodes.TransactionTimeout"/>.</summary>
    public TimeSpan ReceiptTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>How often to ask for the receipt (a dev chain mines at once; a public chain every ~12 s).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Gas limit = estimate × (1 + margin): the estimate is exact on the state it ran against, not on the next block's.</summary>
    public double GasMargin { get; init; } = 0.2;
}

/// <summary>A mined transaction: its hash, block and gas.</summary>
public sealed record ChainTransaction(string Hash, long BlockNumber, string BlockHash, long GasUsed);

/// <summary>Estimate, send, wait: one transaction to the registry from start to receipt, with every failure named.</summary>
internal static class ChainTransactions
{
    /// <summary>
    /// Sends <paramref name="data"/> to <paramref name="to"/> (null: a contract creation) paid by <paramref name="payer"/>
    /// and waits for its receipt. A revert found by the estimate or on chain is decoded; a transaction whose nonce another
    /// took, or that the node dropped, is <see cref="ChainErrorCodes.TransactionReplaced"/>.
    /// </summary>
    public static async Task<TransactionReceipt> ExecuteAsync(ChainRpc rpc, long chainId, ChainPayer payer, string? to, string data, string action, ChainTransactionOptions options, CancellationToken cancellationToken)
    {
        BigInteger limit;
        string hash;
        BigInteger nonce;
        await payer.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var gas = await EstimateAsync(rpc, payer, to, data, action, cancellationToken).ConfigureAwait(false);
            limit = gas + (BigInteger)Math.Ceiling((double)gas * options.GasMargin);
            var gasPrice = await rpc.CallAsync("reading the gas price", async () => (await rpc.Web3.Eth.GasPrice.SendRequestAsync().ConfigureAwait(false)).Value, cancellationToken).ConfigureAwait(false);
            (hash, nonce) = await payer.SubmitAsync(rpc, chainId, to, data, limit, gasPrice, action, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            payer.Gate.Release();
        }

        TransactionReceipt receipt;
        try
        {
            receipt = await WaitForReceiptAsync(rpc, payer.Address, hash, nonce, action, options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            payer.Settled(nonce);
        }

        if (receipt.Status?.Value == BigInteger.One)
        {
            return receipt;
        }

        // Mined but reverted (the state changed between estimate and block: a race). Replaying the call against the
        // block's state gives the contract's reason.
        try
        {
            await rpc.EthCallAsync(to ?? "", data, payer.Address, action, cancellationToken, new BlockParameter(receipt.BlockNumber)).ConfigureAwait(false);
        }
        catch (ChainException ex) when (ex.Code != ChainErrorCodes.RpcUnavailable)
        {
            throw new ChainException(ex.Code, ex.Message.TrimEnd('.') + $" (transaction {hash}, block {receipt.BlockNumber.Value}).", ex.Hint, ex) { Revert = ex.Revert };
        }

        throw new ChainException(ChainErrorCodes.Reverted, $"{action}: transaction {hash} reverted in block {receipt.BlockNumber.Value} (gas used {receipt.GasUsed?.Value} of {limit}; out of gas?).");
    }

    private static async Task<BigInteger> EstimateAsync(ChainRpc rpc, ChainPayer payer, string? to, string data, string action, CancellationToken cancellationToken)
    {
        var input = new CallInput { From = payer.Address, To = to, Data = data, Value = new HexBigInteger(0) };
        try
        {
            return (await rpc.Web3.Eth.Transactions.EstimateGas.SendRequestAsync(input).WaitAsync(cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RpcResponseException ex)
        {
            var error = rpc.RevertOrError(ex, action);
            throw error.Code == ChainErrorCodes.RpcError
                ? new ChainException(ChainErrorCodes.GasEstimationFailed, $"{action}: the node could not estimate the gas: {ex.RpcError.Message}.", "check the payer's balance and the transaction's target", ex)
                : error;
        }
        catch (Exception ex) when (ChainRpc.IsTransportFailure(ex, cancellationToken))
        {
            throw rpc.Unavailable(action, ex);
        }
    }

    private static async Task<TransactionReceipt> WaitForReceiptAsync(ChainRpc rpc, string payer, string hash, BigInteger nonce, string action, ChainTransactionOptions options, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        var missing = 0;
        for (var poll = 0; ; poll++)
        {
            var receipt = await rpc.CallAsync("reading a transaction receipt", () => rpc.Web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash), cancellationToken).ConfigureAwait(false);
            if (receipt is not null)
            {
                return receipt;
            }

            if (poll % 5 == 4)
            {
                // Our nonce is used up but our transaction has no receipt: another transaction took the nonce.
                var mined = await rpc.CallAsync("reading the payer's nonce", async () =>
                    (await rpc.Web3.Eth.Transactions.GetTransactionCount.SendRequestAsync(payer, BlockParameter.CreateLatest()).ConfigureAwait(false)).Value, cancellationToken).ConfigureAwait(false);
                if (nonce >= 0 && mined > nonce &&
                    await rpc.CallAsync("reading a transaction receipt", () => rpc.Web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash), cancellationToken).ConfigureAwait(false) is null)
                {
                    throw new ChainException(ChainErrorCodes.TransactionReplaced, $"{action}: transaction {hash} was replaced: another transaction from {payer} used its nonce {nonce}.");
                }

                var pending = await rpc.CallAsync("reading a transaction", () => rpc.Web3.Eth.Transactions.GetTransactionByHash.SendRequestAsync(hash), cancellationToken).ConfigureAwait(false);
                missing = pending is null ? missing + 1 : 0;
                if (missing >= 2)
                {
                    throw new ChainException(ChainErrorCodes.TransactionReplaced, $"{action}: transaction {hash} was dropped: the node no longer knows it.");
                }
            }

            if (DateTime.UtcNow - started > options.ReceiptTimeout)
            {
                throw new ChainException(ChainErrorCodes.TransactionTimeout, $"{action}: transaction {hash} has no receipt after {options.ReceiptTimeout.TotalSeconds:0} s.");
            }

            await Task.Delay(options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }
}
