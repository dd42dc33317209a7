using System.CommandLine;
using System.Globalization;
using DeepTrain.Modeling;
using DeepTrain.Zoo;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain models</c>: every built-in model with its exact parameter and buffer counts and its default learning rate and schedule.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var channels = new Option<int?>("--in-channels") { Description = "Count with this many input channels (default: each model's own)" };
        var classes = CommonOptions.Classes();
        var cmd = new Command("models", "List the built-in models with their trainable parameter and buffer counts and the learning rate and schedule 'train' uses unless --lr/--schedule say otherwise") { channels, classes };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(channels), r.GetValue(classes))));
        return cmd;
    }

    private static int Run(int? channels, int? classes)
    {
        Console.WriteLine($"{"model",-20} {"input",-10} {"classes",7} {"trainable",12} {"buffers",9} {"lr",6} {"schedule",-10}  description");
        foreach (var m in ModelZoo.All)
        {
            int c = channels ?? m.DefaultChannels, k = classes ?? m.DefaultClasses;
            var (p, b) = Model.Count(m.Build(c, k, m.DefaultSize));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{m.Name,-20} {$"{c}x{m.DefaultSize}x{m.DefaultSize}",-10} {k,7} {p,12:N0} {b,9:N0} {m.Training.LearningRate,6:G3} {m.Training.Schedule,-10}  {m.Description}"));
        }
        // Where each default comes from, after a blank line (benchmarks/defaults_sweep.sh reads the names above it).
        Console.WriteLine();
        Console.WriteLine("training defaults (used unless --lr / --schedule are given; benchmarks/defaults_sweep.sh checks them):");
        foreach (var group in ModelZoo.All.GroupBy(m => m.Training))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  lr {group.Key.LearningRate:G3} {group.Key.Schedule}: {group.Key.Reason} ({string.Join(", ", group.Select(m => m.Name))})"));
        return 0;
    }
}
