using System.CommandLine;
using DeepTrain.Cli.Commands;

namespace DeepTrain.Cli;

/// <summary>The <c>deeptrain</c> command: info, models, plan, train, eval, bench.</summary>
public static class Program
{
    /// <summary>Parses the command line and runs the command; returns the exit code.</summary>
    public static int Main(string[] args)
    {
        var root = new RootCommand("DeepTrain: train ResNet-scale convolutional networks from .NET")
        {
            InfoCommand.Create(),
            ModelsCommand.Create(),
            PlanCommand.Create(),
            TrainCommand.Create(),
            EvalCommand.Create(),
            LrFindCommand.Create(),
            BenchCommand.Create(),
        };
        return root.Parse(args).Invoke();
    }
}
