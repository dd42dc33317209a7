// The example service (README, "Serve predictions"): dotnet run --project src/DeepTrain.ExampleService -- --DeepTrain:Checkpoint=runs/x/model.safetensors
DeepTrain.ExampleService.ExampleServiceApp.Build(args).Run();
