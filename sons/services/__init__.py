"""The only writers of the lifecycle: each public function is one journaled transaction."""
