"""The safety service: runs registered shields (Llama Guard, code scanner) over conversations."""
