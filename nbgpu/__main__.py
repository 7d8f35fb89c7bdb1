from nbgpu.cli.main import entry

entry()
