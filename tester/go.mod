module steel-orchestrator/tester

go 1.19
