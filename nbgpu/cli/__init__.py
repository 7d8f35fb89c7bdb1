"""The commands: nbgpu / nanoBragg (nanoBragg's argv), nbgpu batch, nbgpu bench."""
