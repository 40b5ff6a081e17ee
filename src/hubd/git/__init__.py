"""git over smart HTTP: dulwich's upload-pack and receive-pack handlers over hubd's object store and refs."""
