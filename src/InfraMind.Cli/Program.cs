using InfraMind.Cli;

return await InfraCli.RunAsync(args, CliContext.FromProcess());
