using Nethereum.Contracts;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;

namespace InfraMind.Registry.Chain;

/// <summary>A registry event in chain order (block, log index).</summary>
public abstract record ChainEvent(long BlockNumber, string BlockHash, long LogIndex, string TransactionHash)
{
    public sealed record Published(ChainVersionRecord Record)
        : ChainEvent(Record.BlockNumber, Record.BlockHash, Record.LogIndex, Record.TransactionHash);

    public sealed record Yanked(string Name, string Version, string Owner, string Reason, long Block, string Hash, long Index, string Tx)
        : ChainEvent(Block, Hash, Index, Tx);

    public sealed record Transferred(string Name, string From, string To, long Block, string Hash, long Index, string Tx)
        : ChainEvent(Block, Hash, Index, Tx);
}

public sealed partial class ChainModelRegistry
{
    /// <summary>The registry's publish, yank and transfer events in blocks <paramref name="fromBlock"/>..<paramref name="toBlock"/>, in chain order.</summary>
    public async Task<IReadOnlyList<ChainEvent>> GetEventsAsync(long fromBlock, long toBlock, CancellationToken cancellationToken)
    {
        var filter = new NewFilterInput
        {
            Address = [Address.Contract],
            FromBlock = new BlockParameter(new HexBigInteger(fromBlock)),
            ToBlock = new BlockParameter(new HexBigInteger(toBlock)),
            Topics = [new[] { Topic<ModelPublishedEvent>(), Topic<VersionYankedEvent>(), Topic<NameTransferredEvent>() }],
        };
        var logs = await _rpc.GetLogsAsync(filter, cancellationToken).ConfigureAwait(false);
        var timestamps = new Dictionary<long, long>();
        var events = new List<ChainEvent>();
        foreach (var log in logs.OrderBy(l => l.BlockNumber.Value).ThenBy(l => l.LogIndex.Value))
        {
            if (TryDecode<ModelPublishedEvent>(log) is { } published)
            {
                var block = (long)log.BlockNumber.Value;
                if (!timestamps.TryGetValue(block, out var time))
                {
                    time = timestamps[block] = (await _rpc.BlockAsync(block, cancellationToken).ConfigureAwait(false))?.Timestamp ?? 0;
                }

                events.Add(new ChainEvent.Published(ToRecord(published, time, yanked: false)));
            }
            else if (TryDecode<VersionYankedEvent>(log) is { } yanked)
            {
                events.Add(new ChainEvent.Yanked(yanked.Event.Name, yanked.Event.Version, Checksum(yanked.Event.Owner), yanked.Event.Reason, (long)log.BlockNumber.Value,
                    log.BlockHash.ToLowerInvariant(), (long)log.LogIndex.Value, log.TransactionHash.ToLowerInvariant()));
            }
            else if (TryDecode<NameTransferredEvent>(log) is { } transferred)
            {
                events.Add(new ChainEvent.Transferred(transferred.Event.Name, Checksum(transferred.Event.From), Checksum(transferred.Event.To), (long)log.BlockNumber.Value,
                    log.BlockHash.ToLowerInvariant(), (long)log.LogIndex.Value, log.TransactionHash.ToLowerInvariant()));
            }
        }

        return events;
    }
}

public sealed partial class ChainModelRegistry
{
    /// <summary>An empty transaction (no value, no call data) from <paramref name="payer"/>: the chain's own round trip, the bench's baseline.</summary>
    internal async Task<ChainTransaction> SendValueAsync(ChainPayer payer, string to, CancellationToken cancellationToken) =>
        ToTransaction(await ChainTransactions.ExecuteAsync(_rpc, ChainId, payer, to, "0x", "sending an empty transaction", _options.Transactions, cancellationToken).ConfigureAwait(false));
}
