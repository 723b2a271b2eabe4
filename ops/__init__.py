"""Operations: the multi-instance stack (stack.py), nginx and Docker configs."""
